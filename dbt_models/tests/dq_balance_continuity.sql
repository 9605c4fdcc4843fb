-- Data quality (kpis.md): per central, previous balance - cost ~ balance. Gaps mean top-ups or
-- missing pushes. The balance moves when a call ends, so calls are taken in order of their end
-- (start + duration; the last receipt when the start is unknown), the call id breaking ties.
-- Only the reporting days this build wrote calls on, or took calls away from, are checked: the
-- other days were checked by the builds that wrote them, and reading every call in order would
-- make each build's cost grow with the history. The day before each is read too, so the first
-- call of a checked day is compared with the call that ended before it (a call running for more
-- than a day would escape). The days are a list of constants, so DuckDB reads only their row
-- groups; a full refresh writes every day, and var `data_tests_on_all_rows` checks them all.
{{ config(severity='warn') }}
{%- do ref('int_report_calls') -%}

{#- Unscoped where there is no fct_calls to read the days from yet (sqlfluff's compile). -#}
{%- set scoped = execute and not var('data_tests_on_all_rows')
    and load_relation(ref('fct_calls')) is not none -%}
{%- set on_read_days = 'true' -%}
{%- set on_checked_days = 'true' -%}
{%- set checked_days = [] -%}
{%- set read_days = [] -%}
{%- if scoped -%}
    {%- set query -%}
        select reported_date from {{ ref('fct_calls') }}
        where built_at = {{ run_started_at_utc() }}
        union
        select moved_from_reported_date from {{ ref('fct_calls') }}
        where built_at = {{ run_started_at_utc() }}
        union
        select reported_date from {{ ref('int_report_calls') }}
        where built_at = {{ run_started_at_utc() }} and not is_listed
    {%- endset -%}
    {%- for day in run_query(query).columns[0].values() if day is not none -%}
        {%- do checked_days.append(day | string) -%}
        {%- do read_days.append(day | string) -%}
        {%- do read_days.append((day - modules.datetime.timedelta(days=1)) | string) -%}
    {%- endfor -%}
    {%- set on_read_days = reported_date_in(read_days | unique | sort) -%}
    {%- set on_checked_days = reported_date_in(checked_days | unique | sort) -%}
{%- endif -%}

with

ended as (

    select
        central_id,
        call_id,
        reported_date,
        cost,
        balance_after,
        coalesce(
            {{ dbt.dateadd('second', 'coalesce(duration_seconds, 0)', 'started_at_utc') }},
            last_received_at
        ) as ended_at
    from {{ ref('fct_calls') }}
    where
        balance_after is not null
        and cost is not null
        and {{ on_read_days }}

),

balances as (

    select
        central_id,
        call_id,
        reported_date,
        cost,
        balance_after,
        lag(balance_after) over (
            partition by central_id
            order by ended_at, call_id
        ) as previous_balance
    from ended

)

select
    central_id,
    call_id,
    cost,
    balance_after,
    previous_balance
from balances
where
    abs(previous_balance - cost - balance_after) > {{ var('cost_tolerance') }}
    and {{ on_checked_days }}
