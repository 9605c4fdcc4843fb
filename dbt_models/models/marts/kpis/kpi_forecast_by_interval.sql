{%- set weeks = var('forecast_weeks') | int -%}
{%- do ref('fct_calls') -%}
{%- do ref('int_report_calls') -%}

-- Baseline forecast of offered legs: the mean of the same weekday and interval over the
-- `forecast_weeks` weeks before, beside the actual. To swap the model, replace `forecast`.
with

{%- if is_incremental() %}

rebuilt_days as (

    select reported_date
    from ({{ rebuilt_reported_dates(['kpi_by_interval', 'fct_calls']) }}) as rebuilt

),

-- A day's forecast reads the same weekday of the weeks before it: a changed day changes the
-- forecasts of the weeks after it too.
days as (

    {{ shifted_days('rebuilt_days', range(0, 7 * weeks + 1, 7)) }}

),
{%- endif %}

intervals as (

    select * from {{ ref('kpi_by_interval') }}

),

queue_intervals as (

    select * from intervals
    where is_queue

),

-- A day of a central with any voice leg is observed: an interval without a row there had none.
observed_days as (

    select distinct
        central_id,
        reported_date
    from intervals

),

target_days as (

    select * from observed_days
    {%- if is_incremental() %}
        where reported_date in (select reported_date from days)
    {%- endif %}

),

weeks_back as (
    {%- for week in range(1, weeks + 1) %}

        select {{ week }} as weeks_back
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

-- Every interval x queue of a target day with an actual or a past leg to forecast from.
slots as (

    select
        queue_intervals.central_id,
        queue_intervals.queue,
        queue_intervals.reported_date,
        queue_intervals.interval_start
    from queue_intervals
    inner join target_days
        on
            queue_intervals.central_id = target_days.central_id
            and queue_intervals.reported_date = target_days.reported_date

    union

    select
        queue_intervals.central_id,
        queue_intervals.queue,
        target_days.reported_date,
        {{ dbt.dateadd('day', '7 * weeks_back.weeks_back', 'queue_intervals.interval_start') }}
            as interval_start
    from queue_intervals
    cross join weeks_back
    inner join target_days
        on
            queue_intervals.central_id = target_days.central_id
            and target_days.reported_date = cast({{ dbt.dateadd(
                'day', '7 * weeks_back.weeks_back', 'queue_intervals.reported_date'
            ) }} as date)

),

history as (

    select
        slots.central_id,
        slots.queue,
        slots.reported_date,
        slots.interval_start,
        past_days.reported_date is not null as is_observed,
        coalesce(past.offered, 0) as offered
    from slots
    cross join weeks_back
    left join observed_days as past_days
        on
            slots.central_id = past_days.central_id
            and past_days.reported_date = cast({{ dbt.dateadd(
                'day', '-7 * weeks_back.weeks_back', 'slots.reported_date'
            ) }} as date)
    left join queue_intervals as past
        on
            slots.central_id = past.central_id
            and slots.queue = past.queue
            and past.interval_start = {{ dbt.dateadd(
                'day', '-7 * weeks_back.weeks_back', 'slots.interval_start'
            ) }}

),

-- The model: the mean over the observed weeks (a week without any leg of the central is left
-- out, not counted as 0); null when none of them was observed.
forecast as (

    select
        central_id,
        queue,
        interval_start,
        sum(case when is_observed then 1 else 0 end) as weeks_observed,
        {{ ratio(
            'sum(case when is_observed then offered else 0 end)',
            'sum(case when is_observed then 1 else 0 end)',
            2,
        ) }} as forecast_offered
    from history
    group by central_id, queue, interval_start

)

select
    {{ surrogate_key(['slots.interval_start', 'slots.central_id', 'slots.queue']) }} as kpi_key,
    slots.reported_date,
    slots.interval_start,
    {{ var('interval_minutes') | int }} as interval_minutes,
    cast(extract(isodow from slots.interval_start) as {{ dbt.type_int() }}) as iso_weekday,
    slots.central_id,
    slots.queue,
    coalesce(actual.offered, 0) as offered,
    forecast.forecast_offered,
    forecast.weeks_observed,
    {{ rounded('forecast.forecast_offered - coalesce(actual.offered, 0)', 2) }} as forecast_error,
    {{ rounded('abs(forecast.forecast_offered - coalesce(actual.offered, 0))', 2) }}
        as absolute_error,
    {{ run_started_at_utc() }} as built_at
from slots
inner join forecast
    on
        slots.central_id = forecast.central_id
        and slots.queue = forecast.queue
        and slots.interval_start = forecast.interval_start
left join queue_intervals as actual
    on
        slots.central_id = actual.central_id
        and slots.queue = actual.queue
        and slots.interval_start = actual.interval_start
