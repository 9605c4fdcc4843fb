{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='reported_date',
        pre_hook="{{ delete_days_calls_left() }}",
        on_schema_change='append_new_columns',
    )
}}

{%- set sl = var('sl_threshold_s') %}

with

calls as (

    select
        *,
        cast(extract(isodow from reported_at) as {{ dbt.type_int() }}) as iso_weekday,
        cast(extract(hour from reported_at) as {{ dbt.type_int() }}) as hour_of_day
    from {{ ref('fct_calls') }}
    {% if is_incremental() %}
        where reported_date in ({{ rebuilt_reported_dates(['fct_calls']) }})
    {% endif %}

)

-- Additive counts per local hour, so the heatmap can sum any number of days cheaply.
select
    reported_date,
    central_id,
    iso_weekday,
    hour_of_day,
    count(*) as legs,
    sum(case when call_kind = 'inbound' and not is_transfer_in then 1 else 0 end) as inbound_calls,
    sum(case when is_offered then 1 else 0 end) as offered,
    sum(case when is_offered and is_answered then 1 else 0 end) as answered,
    sum(case when outcome = 'abandoned_queue' then 1 else 0 end) as abandoned,
    sum(case when is_short_abandon then 1 else 0 end) as short_abandons,
    sum(case when outcome = 'abandoned_ivr' then 1 else 0 end) as abandoned_ivr,
    sum(case when is_offered and is_answered and wait_seconds <= {{ sl }} then 1 else 0 end)
        as answered_within_sl,
    sum(case when outcome = 'abandoned_queue' and wait_seconds <= {{ sl }} then 1 else 0 end)
        as abandoned_within_sl,
    sum(case when outcome = 'abandoned_queue' and wait_seconds > {{ sl }} then 1 else 0 end)
        as abandoned_after_sl,
    sum(case when is_offered and is_answered then wait_seconds else 0 end) as answered_wait_seconds,
    {{ run_started_at_utc() }} as built_at
from calls
group by reported_date, central_id, iso_weekday, hour_of_day
