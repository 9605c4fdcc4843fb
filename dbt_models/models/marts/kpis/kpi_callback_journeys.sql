{%- set window_hours = var('callback_window_hours') | int -%}
{#- The days back a callback can reach: its journey started at most the window before it. -#}
{%- set days_back = (window_hours + 23) // 24 -%}
{%- do ref('fct_calls') -%}
{%- do ref('fct_journeys') -%}
{%- do ref('int_report_calls') -%}

-- Abandoned inbound journeys, each with the first outbound call to its caller in the window.
with

{%- if is_incremental() %}

rebuilt_days as (

    select reported_date
    from ({{ rebuilt_reported_dates(['fct_calls', 'fct_journeys']) }}) as rebuilt

),

-- An outbound call on a rebuilt day may be the callback of a journey of the days before it.
days as (

    {{ shifted_days('rebuilt_days', range(0, -days_back - 1, -1)) }}

),
{%- endif %}

abandoned as (

    select * from {{ ref('fct_journeys') }}
    where
        journey_kind = 'inbound'
        and final_outcome in ('abandoned_queue', 'abandoned_ivr')
        and not has_unfinished_leg
    {% if is_incremental() %}
        and reported_date in (select reported_date from days)
    {% endif %}

),

outbound as (

    select * from {{ ref('fct_calls') }}
    where call_kind = 'outbound' and caller_token is not null

),

callbacks as (

    select
        abandoned.central_id,
        abandoned.journey_id,
        outbound.call_id,
        outbound.started_at,
        outbound.is_answered,
        {{ rounded(
            'extract(epoch from outbound.started_at_utc)'
            ~ ' - extract(epoch from abandoned.started_at_utc)', 0
        ) }} as seconds_to_callback,
        row_number() over (
            partition by abandoned.central_id, abandoned.journey_id
            order by outbound.started_at_utc, outbound.call_id
        ) as callback_number
    from abandoned
    inner join outbound
        on
            abandoned.central_id = outbound.central_id
            and abandoned.caller_token = outbound.caller_token
            and abandoned.journey_id <> outbound.journey_id
            and abandoned.started_at_utc < outbound.started_at_utc
            and outbound.started_at_utc
            <= {{ dbt.dateadd('hour', window_hours, 'abandoned.started_at_utc') }}

),

callback_counts as (

    select
        central_id,
        journey_id,
        count(*) as callbacks_in_window
    from callbacks
    group by central_id, journey_id

)

select
    {{ surrogate_key(['abandoned.central_id', 'abandoned.journey_id']) }} as kpi_key,
    abandoned.reported_date,
    abandoned.central_id,
    abandoned.journey_id,
    coalesce(abandoned.first_queue, '(ivr)') as queue,
    abandoned.final_outcome,
    abandoned.started_at,
    abandoned.caller_token is not null as has_known_caller,
    first_callback.call_id is not null as is_called_back,
    coalesce(callback_counts.callbacks_in_window, 0) as callbacks_in_window,
    first_callback.call_id as first_callback_call_id,
    first_callback.started_at as first_callback_at,
    first_callback.seconds_to_callback,
    coalesce(first_callback.is_answered, false) as is_first_callback_answered,
    {{ run_started_at_utc() }} as built_at
from abandoned
left join callbacks as first_callback
    on
        abandoned.central_id = first_callback.central_id
        and abandoned.journey_id = first_callback.journey_id
        and first_callback.callback_number = 1
left join callback_counts
    on
        abandoned.central_id = callback_counts.central_id
        and abandoned.journey_id = callback_counts.journey_id
