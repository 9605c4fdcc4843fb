{#
    KPI values are rounded in decimal arithmetic, then handed out as double precision, so that
    DuckDB and Postgres return the same numbers whatever order they summed in.
#}
{% macro rounded(expression, digits) -%}
    cast(round(cast({{ expression }} as numeric(28, 6)), {{ digits }}) as double precision)
{%- endmacro %}

{# numerator / denominator rounded to `digits` decimals (4); null when the denominator is 0. #}
{% macro ratio(numerator, denominator, digits=4) -%}
    cast(
        round(
            cast({{ numerator }} as numeric(28, 6))
            / nullif(cast({{ denominator }} as numeric(28, 6)), 0),
            {{ digits }}
        )
        as double precision
    )
{%- endmacro %}

{# Wall time in the reporting time zone (var `timezone`) of a UTC timestamp. #}
{% macro to_reporting_time(expression) -%}
    ({{ expression }} at time zone '{{ var("timezone") }}')
{%- endmacro %}

{# The reference time of the incomplete-call grace period: var `as_of_utc`, or the run time. #}
{% macro as_of_utc() -%}
    {%- if var('as_of_utc') -%}
        cast('{{ var("as_of_utc") }}' as timestamptz)
    {%- else -%}
        {{ dbt.current_timestamp() }}
    {%- endif -%}
{%- endmacro %}

{# A call without a final push whose last push is older than this is incomplete (grace period). #}
{% macro incomplete_since() -%}
    {{ dbt.dateadd('hour', -var('incomplete_grace_hours'), as_of_utc()) }}
{%- endmacro %}

{# When this invocation started, stamped on rows it (re)writes so downstream runs find them. #}
{% macro run_started_at_utc() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}+00' as timestamptz)
{%- endmacro %}

{#
    The newest value of `column` in the incremental model being built, or an instant before any
    data when the table is still empty, so an incremental run after an empty first run still
    picks everything up. It is read when the model runs and written into its SQL as a constant:
    a filter `stamp > constant` lets the database skip the older blocks of a table (DuckDB's
    min/max per row group, written in load order), where a subquery would make it read the whole
    stamp column of the history on every run.
#}
{% macro high_watermark(column) -%}
    {{ newest_stamp(this, column, "cast('1900-01-01 00:00:00+00' as timestamptz)") }}
{%- endmacro %}

{# The newest `column` (a timestamptz) of `relation` as a constant, or `default` when it has none. #}
{% macro newest_stamp(relation, column, default='cast(null as timestamptz)') -%}
    {%- set newest = none -%}
    {%- if execute -%}
        {%- set newest = run_query('select max(' ~ column ~ ') from ' ~ relation).columns[0].values()[0] -%}
    {%- endif -%}
    {%- if newest is none -%}
        {{ default }}
    {%- elif newest.tzinfo is none -%}
        {{ exceptions.raise_compiler_error(column ~ ' of ' ~ relation ~ ' is not a timestamptz') }}
    {%- else -%}
        cast('{{ newest.isoformat(sep=" ") }}' as timestamptz)
    {%- endif -%}
{%- endmacro %}

{#
    The rows of `model` (fct_calls, fct_journeys, ...) that an incremental mart keyed by
    reporting day aggregates: on a full build all of them; on an incremental run those on the
    reporting days that `rebuilt_by` rebuilt since the mart was last built
    (rebuilt_reported_dates). The days a mart reads are the days its delete+insert replaces
    (unique_key `reported_date`, marts/kpis in dbt_project.yml). A mart that reads several models
    passes the `days` it read once with rebuilt_days: each read is a query of its own.
#}
{% macro rows_on_rebuilt_days(model, rebuilt_by=['fct_calls'], days=none) -%}
    {#- Declared at parse time, so dbt knows the mart depends on every model it reads. -#}
    {%- for upstream in rebuilt_by -%}
        {%- do ref(upstream) -%}
    {%- endfor -%}
    {%- if 'fct_calls' in rebuilt_by -%}
        {%- do ref('int_report_calls') -%}
    {%- endif -%}
    select * from {{ ref(model) }}
    {%- if is_incremental() %}
    where {{ reported_date_in(rebuilt_days(rebuilt_by) if days is none else days) }}
    {%- endif %}
{%- endmacro %}

{#
    The reporting days to recompute: the days of the rows that `models` (each with
    reported_date and built_at) rebuilt since this mart was last built and the days calls left
    (days_calls_left), which the folder's pre-hook deletes: so a mart with no day to rebuild has
    nothing to delete either (no_day_to_rebuild). A journey is reported on its root leg's day and every leg
    of a changed journey is rebuilt, so the days of fct_calls cover the days journeys left.
    Read when the mart runs (like high_watermark) and handed out as a list of 'YYYY-MM-DD', so
    that the mart's filter on them is a list of constants the database can push into its scans.
#}
{% macro rebuilt_days(models) -%}
    {%- set since = high_watermark('built_at') -%}
    {%- set query -%}
        {%- for model in models %}
            {%- if not loop.first %}
                union
            {% endif %}
            select reported_date from {{ ref(model) }}
            where built_at > {{ since }}
        {%- endfor %}
            union
            {{ days_calls_left(since) }}
    {%- endset -%}
    {%- set days = [] -%}
    {%- if execute -%}
        {%- for day in run_query(query).columns[0].values() if day is not none -%}
            {%- do days.append(day | string) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- do return(days | sort) -%}
{%- endmacro %}

{# Whether `relation` has any row (false at parse time). #}
{% macro has_rows(relation) -%}
    {%- do return(execute and run_query('select 1 from ' ~ relation ~ ' limit 1').rows | length > 0) -%}
{%- endmacro %}

{# `column` (reported_date by default) is one of `days` (rebuilt_days): false when there are none. #}
{% macro reported_date_in(days, column='reported_date') -%}
    {%- if days -%}
        {{ column }} in (
            {%- for day in days %}cast('{{ day }}' as date){% if not loop.last %}, {% endif %}{% endfor -%}
        )
    {%- else -%}
        1 = 0 {{ no_day_to_rebuild() }}
    {%- endif -%}
{%- endmacro %}

{#
    Written into a day mart's SQL when rebuilt_days found no day: the incremental
    materialization (macros/incremental.sql) then skips the mart. A mart keyed by reporting day
    replaces whole days, so every day it writes is a day it recomputes, and with none to
    recompute it writes nothing and its pre-hook deletes nothing (rebuilt_days includes the days
    calls left).
#}
{% macro no_day_to_rebuild() -%}
    /* pbx55: no day to rebuild */
{%- endmacro %}

{# rebuilt_days as a query of one column, reported_date, for the marts that join on them. #}
{% macro rebuilt_reported_dates(models) -%}
    {%- set days = rebuilt_days(models) -%}
    {%- if days -%}
        {%- for day in days %}
            {%- if not loop.first %} union all {% endif %}
            select cast('{{ day }}' as date) as reported_date
        {%- endfor %}
    {%- else -%}
        select cast(null as date) as reported_date where 1 = 0 {{ no_day_to_rebuild() }}
    {%- endif -%}
{%- endmacro %}

{#
    The reporting days calls left since this mart was last built (`since`, its high_watermark):
    the days rebuilt calls moved away from (moved_from_reported_date), and the days of calls a
    new pull of the report no longer lists (int_report_calls, not listed: fct_calls drops those
    no push has).
#}
{% macro days_calls_left(since) -%}
    select moved_from_reported_date from {{ ref('fct_calls') }}
    where built_at > {{ since }} and moved_from_reported_date is not null
    union
    select reported_date from {{ ref('int_report_calls') }}
    where built_at > {{ since }} and not is_listed
{%- endmacro %}

{#
    Pre-hook of the incremental models keyed by reporting day: deletes the days calls left.
    delete+insert replaces only the days the new rows carry, so a day a call left, and that no
    call is left on, would otherwise keep counting it.
#}
{% macro delete_days_calls_left() -%}
    {%- if is_incremental() %}
        delete from {{ this }} where reported_date in ({{ days_calls_left(high_watermark('built_at')) }})
    {%- endif %}
{%- endmacro %}

{# The instant (timestamptz) of a wall time in the reporting time zone (var `timezone`). #}
{% macro reporting_time_to_utc(expression) -%}
    ({{ expression }} at time zone '{{ var("timezone") }}')
{%- endmacro %}

{#
    Post-hook of fct_calls: deletes the calls no push has that a new pull of the report no
    longer lists (int_report_calls, not listed). The run rebuilt them, and every leg of their
    journeys, but a call with nothing left to write keeps its old row, which delete+insert
    only replaces. The rows this run did not write bound the watermark of the run before.
#}
{% macro delete_calls_the_report_dropped() -%}
    {%- if is_incremental() %}
        delete from {{ this }}
        where
            push_count = 0
            and built_at < {{ run_started_at_utc() }}
            and central_id || '/' || call_id in (
                select central_id || '/' || call_id from {{ ref('int_report_calls') }}
                where
                    not is_listed
                    and built_at > (
                        select coalesce(max(built_at), cast('1900-01-01 00:00:00+00' as timestamptz))
                        from {{ this }}
                        where built_at < {{ run_started_at_utc() }}
                    )
            )
    {%- endif %}
{%- endmacro %}

{#
    Pre-hook of fct_journeys: deletes the journeys whose root delete_calls_the_report_dropped
    deleted from fct_calls. The other legs of such a journey were rebuilt into journeys of
    their own; a journey the dropped call was a later leg of is rebuilt without it.
#}
{% macro delete_journeys_the_report_dropped() -%}
    {%- if is_incremental() %}
        delete from {{ this }}
        where central_id || '/' || journey_id in (
            select dropped.central_id || '/' || dropped.call_id
            from {{ ref('int_report_calls') }} as dropped
            where
                dropped.built_at > {{ high_watermark('built_at') }}
                and not dropped.is_listed
                and not exists (
                    select 1 from {{ ref('fct_calls') }} as calls
                    where calls.central_id = dropped.central_id and calls.call_id = dropped.call_id
                )
        )
    {%- endif %}
{%- endmacro %}

{#
    The days of `days_relation` (a relation or CTE with `reported_date`) shifted by each of
    `day_offsets` (0 keeps the day itself): the days an incremental mart recomputes when a
    rebuilt day changes what it computes for other days (a forecast weeks later, a callback's
    journey days before, a call running past midnight).
#}
{% macro shifted_days(days_relation, day_offsets) -%}
    {%- for offset in day_offsets %}
    select cast({{ dbt.dateadd('day', offset, 'reported_date') }} as date) as reported_date
    from {{ days_relation }}
        {%- if not loop.last %}
    union
        {%- endif %}
    {%- endfor %}
{%- endmacro %}
