{#- The folder's pre-hook (delete_days_calls_left) reads these on incremental runs. -#}
{%- do ref('fct_calls') -%}
{%- do ref('int_report_calls') -%}

-- Abandoned inbound journeys called back within the window, per day x central x first queue.
with

journeys as (

    {{ rows_on_rebuilt_days('kpi_callback_journeys', rebuilt_by=['kpi_callback_journeys']) }}

)

select
    {{ surrogate_key(['reported_date', 'central_id', 'queue']) }} as kpi_key,
    reported_date,
    central_id,
    queue,
    count(*) as abandoned_journeys,
    sum(case when has_known_caller then 1 else 0 end) as abandoned_with_caller,
    sum(case when is_called_back then 1 else 0 end) as called_back,
    sum(case when is_first_callback_answered then 1 else 0 end) as first_callbacks_answered,
    {{ ratio(
        'sum(case when is_called_back then 1 else 0 end)',
        'sum(case when has_known_caller then 1 else 0 end)',
    ) }} as callback_rate,
    {{ ratio(
        'sum(case when is_first_callback_answered then 1 else 0 end)',
        'sum(case when has_known_caller then 1 else 0 end)',
    ) }} as callback_answered_rate,
    {{ percentile_cont('seconds_to_callback', 0.5) }} as callback_p50_seconds,
    {{ rounded('avg(seconds_to_callback)', 2) }} as callback_mean_seconds,
    {{ run_started_at_utc() }} as built_at
from journeys
group by reported_date, central_id, queue
