{#- The folder's pre-hook (delete_days_calls_left) reads these on incremental runs. -#}
{%- do ref('fct_calls') -%}
{%- do ref('int_report_calls') -%}

-- How far the baseline forecast was from the actual offered legs, per day x central x queue.
with

intervals as (

    {{ rows_on_rebuilt_days('kpi_forecast_by_interval', rebuilt_by=['kpi_forecast_by_interval']) }}

)

select
    {{ surrogate_key(['reported_date', 'central_id', 'queue']) }} as kpi_key,
    reported_date,
    central_id,
    queue,
    count(*) as intervals,
    sum(offered) as offered,
    sum(case when forecast_offered is not null then 1 else 0 end) as forecast_intervals,
    sum(case when forecast_offered is not null then offered else 0 end) as forecast_intervals_offered,
    {{ rounded('sum(forecast_offered)', 2) }} as forecast_offered,
    {{ rounded('sum(absolute_error)', 2) }} as absolute_error,
    {{ ratio('sum(absolute_error)', 'sum(case when forecast_offered is not null then offered else 0 end)') }}
        as wape,
    {{ ratio(
        'sum(forecast_error)', 'sum(case when forecast_offered is not null then offered else 0 end)'
    ) }} as forecast_bias,
    {{ run_started_at_utc() }} as built_at
from intervals
group by reported_date, central_id, queue
