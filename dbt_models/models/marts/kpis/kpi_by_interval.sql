{%- set minutes = var('interval_minutes') | int -%}
{%- if minutes not in [15, 30] -%}
    {{ exceptions.raise_compiler_error("var interval_minutes must be 15 or 30, not " ~ minutes) }}
{%- endif -%}
{#- A leg counts in progress until the end of the day after its own at most, so that a day's
    peaks depend on its own legs and the previous day's only. -#}
{%- set longest_reach = 2 * 24 * 60 // minutes -%}
{%- set counts = kpi_counts() -%}
{%- set count_names = [
    'legs', 'inbound_calls', 'offered', 'answered', 'abandoned', 'short_abandons', 'abandoned_ivr',
    'retained_ivr', 'unmeasured_legs', 'answered_within_sl', 'abandoned_within_sl', 'answered_legs',
    'answered_wait_seconds',
    'answered_talk_seconds', 'calls_from_report',
] -%}
{%- do ref('int_report_calls') -%}

-- Voice legs per interval of their start x central x queue, with the peak of legs in progress.
with

{%- if is_incremental() %}

rebuilt_days as (

    select reported_date from ({{ rebuilt_reported_dates(['fct_calls']) }}) as rebuilt

),

-- A leg still in progress at midnight counts in the next day's peaks: that day is rebuilt too.
days as (

    {{ shifted_days('rebuilt_days', [0, 1]) }}

),
{%- endif %}

calls as (

    select
        *,
        {{ dbt.dateadd(
            'minute',
            'cast(floor(extract(minute from reported_at) / ' ~ minutes ~ ') * ' ~ minutes
            ~ ' as ' ~ dbt.type_int() ~ ')',
            dbt.date_trunc('hour', 'reported_at'),
        ) }} as leg_interval_start,
        {{ dbt.dateadd('second', 'coalesce(duration_seconds, 0)', 'reported_at') }} as leg_ended_at,
        {{ dbt.dateadd('day', 2, 'cast(reported_date as timestamp)') }} as reach_ends_at
    from {{ ref('fct_calls') }}
    where call_kind in ('inbound', 'outbound')
    {% if is_incremental() %}
        and (
            reported_date in (select reported_date from days)
            or cast({{ dbt.dateadd('day', 1, 'reported_date') }} as date)
            in (select reported_date from days)
        )
    {% endif %}

),

legs as (

    select
        central_id,
        leg_interval_start as interval_start,
        coalesce(queue, case when call_kind = 'inbound' then '(ivr)' else '(outbound)' end) as queue,
        queue is not null as is_queue,
        reported_at as started_at,
        case when leg_ended_at < reach_ends_at then leg_ended_at else reach_ends_at end as ended_at,
        call_kind,
        is_transfer_in,
        is_offered,
        is_answered,
        outcome,
        is_short_abandon,
        wait_seconds,
        talk_seconds,
        final_state_source,
        branch_mask
    from calls

),

counted as (

    select
        central_id,
        queue,
        interval_start,
        is_queue,
        {{ kpi_count_columns(count_names) }},
        {{ kpi_ratios(counts, ['service_level', 'asa_seconds', 'talk_mean_seconds']) }},
        count(distinct case when is_answered then branch_mask end) as agents_answering
    from legs
    group by central_id, queue, interval_start, is_queue

),

-- A leg is in progress from its start until its end (the end instant excluded), and at least at
-- its start: at equal times ends of legs with a duration come first, then starts, then the ends
-- of legs without one. The count after each start is the number in progress at that instant.
events as (

    select
        central_id,
        queue,
        interval_start,
        started_at as event_at,
        1 as in_progress_change,
        1 as tie_order
    from legs
    union all
    select
        central_id,
        queue,
        interval_start,
        ended_at as event_at,
        -1 as in_progress_change,
        case when ended_at > started_at then 0 else 2 end as tie_order
    from legs

),

running as (

    select
        *,
        sum(in_progress_change) over (
            partition by central_id, queue
            order by event_at, tie_order
            rows between unbounded preceding and current row
        ) as in_progress
    from events

),

peaks_at_starts as (

    select
        central_id,
        queue,
        interval_start,
        max(in_progress) as peak
    from running
    where in_progress_change = 1
    group by central_id, queue, interval_start

),

interval_steps as (

    -- dbt's macro writes its select targets on one line.
    {{ dbt.generate_series(longest_reach) }} -- noqa: LT09

),

-- Legs still in progress when a later interval begins: what that interval starts with.
carried as (

    select
        legs.central_id,
        legs.queue,
        legs.is_queue,
        {{ dbt.dateadd(
            'minute', 'interval_steps.generated_number * ' ~ minutes, 'legs.interval_start'
        ) }} as interval_start,
        count(*) as carried_in
    from legs
    inner join interval_steps
        on {{ dbt.dateadd(
            'minute', 'interval_steps.generated_number * ' ~ minutes, 'legs.interval_start'
        ) }} < legs.ended_at
    group by
        legs.central_id,
        legs.queue,
        legs.is_queue,
        {{ dbt.dateadd(
            'minute', 'interval_steps.generated_number * ' ~ minutes, 'legs.interval_start'
        ) }}

),

slots as (

    select
        central_id,
        queue,
        is_queue,
        interval_start
    from counted
    union
    select
        central_id,
        queue,
        is_queue,
        interval_start
    from carried

),

intervals as (

    select
        slots.central_id,
        slots.queue,
        slots.interval_start,
        slots.is_queue,
        cast(slots.interval_start as date) as reported_date,
        {%- for name in count_names + ['agents_answering'] %}
            coalesce(counted.{{ name }}, 0) as {{ name }},
        {%- endfor %}
        counted.service_level,
        counted.asa_seconds,
        counted.talk_mean_seconds,
        case
            when coalesce(carried.carried_in, 0) > coalesce(peaks_at_starts.peak, 0)
                then carried.carried_in
            else coalesce(peaks_at_starts.peak, 0)
        end as peak_concurrent_calls
    from slots
    left join counted
        on
            slots.central_id = counted.central_id
            and slots.queue = counted.queue
            and slots.interval_start = counted.interval_start
    left join peaks_at_starts
        on
            slots.central_id = peaks_at_starts.central_id
            and slots.queue = peaks_at_starts.queue
            and slots.interval_start = peaks_at_starts.interval_start
    left join carried
        on
            slots.central_id = carried.central_id
            and slots.queue = carried.queue
            and slots.interval_start = carried.interval_start

)

select
    {{ surrogate_key(['interval_start', 'central_id', 'queue']) }} as kpi_key,
    reported_date,
    interval_start,
    {{ minutes }} as interval_minutes,
    cast(extract(isodow from interval_start) as {{ dbt.type_int() }}) as iso_weekday,
    central_id,
    queue,
    is_queue,
    {%- for name in count_names %}
        {{ name }},
    {%- endfor %}
    service_level,
    asa_seconds,
    talk_mean_seconds,
    agents_answering,
    peak_concurrent_calls,
    {{ run_started_at_utc() }} as built_at
from intervals
{%- if is_incremental() %}
    where reported_date in (select reported_date from days)
{%- endif %}
