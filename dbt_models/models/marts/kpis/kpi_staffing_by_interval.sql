{%- set seconds_per_interval = (var('interval_minutes') | int) * 60 -%}
{#- The folder's pre-hook (delete_days_calls_left) reads these on incremental runs. -#}
{%- do ref('fct_calls') -%}
{%- do ref('int_report_calls') -%}

-- Erlang C staffing per interval x queue, from the interval's offered legs and mean talk.
with recursive

intervals as (

    {{ rows_on_rebuilt_days('kpi_by_interval', rebuilt_by=['kpi_by_interval']) }}

),

queue_intervals as (

    select
        *,
        cast(answered_talk_seconds as double precision) / nullif(answered_legs, 0)
            as handle_seconds
    from intervals
    where is_queue and offered > 0

),

-- Erlangs: the talk seconds the offered legs bring, at the mean, per second of the interval.
erlang_inputs as (

    select
        kpi_key,
        handle_seconds,
        offered * handle_seconds / {{ seconds_per_interval }} as traffic_erlangs
    from queue_intervals
    where handle_seconds > 0

),

{{ erlang_c_staffing('erlang_inputs', 'kpi_key', var('sl_threshold_s'), var('sl_target')) }}

select
    queue_intervals.kpi_key,
    queue_intervals.reported_date,
    queue_intervals.interval_start,
    queue_intervals.interval_minutes,
    queue_intervals.iso_weekday,
    queue_intervals.central_id,
    queue_intervals.queue,
    queue_intervals.offered,
    queue_intervals.answered,
    {{ rounded('queue_intervals.handle_seconds', 2) }} as handle_mean_seconds,
    {{ rounded('erlang_inputs.traffic_erlangs', 4) }} as traffic_erlangs,
    erlang_staffing.agents_required,
    erlang_staffing.expected_service_level,
    erlang_staffing.expected_asa_seconds,
    erlang_staffing.expected_wait_probability,
    erlang_staffing.expected_occupancy,
    queue_intervals.agents_answering,
    queue_intervals.agents_answering - erlang_staffing.agents_required as agents_short_of_required,
    queue_intervals.service_level,
    queue_intervals.asa_seconds,
    {{ run_started_at_utc() }} as built_at
from queue_intervals
left join erlang_inputs on queue_intervals.kpi_key = erlang_inputs.kpi_key
left join erlang_staffing on queue_intervals.kpi_key = erlang_staffing.kpi_key
