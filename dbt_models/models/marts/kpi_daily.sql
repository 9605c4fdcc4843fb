{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='reported_date',
        pre_hook="{{ delete_days_calls_left() }}",
        on_schema_change='append_new_columns',
    )
}}

with

calls as (

    select * from {{ ref('fct_calls') }}
    {% if is_incremental() %}
        -- Whole reporting days are recomputed: the days of the rows rebuilt since the last run.
        where reported_date in ({{ rebuilt_reported_dates(['fct_calls', 'fct_journeys']) }})
    {% endif %}

),

journeys_in_scope as (

    select * from {{ ref('fct_journeys') }}
    {% if is_incremental() %}
        where reported_date in ({{ rebuilt_reported_dates(['fct_calls', 'fct_journeys']) }})
    {% endif %}

),

leg_kpis as (

    select
        reported_date,
        central_id,
        call_kind,
        {{ leg_kpi_columns() }}
    from calls
    group by reported_date, central_id, call_kind

),

journey_kpis as (

    select
        reported_date,
        central_id,
        journey_kind as call_kind,
        count(*) as journeys,
        sum(case when is_answered then 1 else 0 end) as journeys_answered,
        sum(case when transfers > 0 then 1 else 0 end) as journeys_transferred,
        {{ ratio('sum(case when not is_answered and not has_unfinished_leg then 1 else 0 end)', 'count(*)') }}
            as journey_abandon_rate,
        {{ ratio('sum(case when transfers > 0 then 1 else 0 end)', 'count(*)') }}
            as journey_transfer_rate,
        {{ ratio('sum(legs)', 'count(*)', 2) }} as legs_per_journey,
        {{ ratio('sum(total_wait_seconds)', 'count(*)', 2) }} as journey_wait_mean_seconds,
        {{ ratio('sum(total_cost)', 'count(*)') }} as journey_cost_mean,
        {{ ratio(
            'sum(case when is_repeated_by_caller_24h then 1 else 0 end)',
            'count(is_repeated_by_caller_24h)'
        ) }} as repeat_rate_caller_24h,
        {{ ratio(
            'sum(case when is_repeated_by_caller_168h then 1 else 0 end)',
            'count(is_repeated_by_caller_168h)'
        ) }} as repeat_rate_caller_168h,
        {{ ratio(
            'sum(case when is_repeated_by_document_24h then 1 else 0 end)',
            'count(is_repeated_by_document_24h)'
        ) }} as repeat_rate_document_24h,
        {{ ratio(
            'sum(case when is_repeated_by_document_168h then 1 else 0 end)',
            'count(is_repeated_by_document_168h)'
        ) }} as repeat_rate_document_168h
    from journeys_in_scope
    group by reported_date, central_id, journey_kind

)

select
    leg_kpis.*,
    coalesce(journey_kpis.journeys, 0) as journeys,
    coalesce(journey_kpis.journeys_answered, 0) as journeys_answered,
    coalesce(journey_kpis.journeys_transferred, 0) as journeys_transferred,
    journey_kpis.journey_abandon_rate,
    journey_kpis.journey_transfer_rate,
    journey_kpis.legs_per_journey,
    journey_kpis.journey_wait_mean_seconds,
    journey_kpis.journey_cost_mean,
    journey_kpis.repeat_rate_caller_24h,
    journey_kpis.repeat_rate_caller_168h,
    journey_kpis.repeat_rate_document_24h,
    journey_kpis.repeat_rate_document_168h,
    {{ run_started_at_utc() }} as built_at
from leg_kpis
left join journey_kpis
    on
        leg_kpis.reported_date = journey_kpis.reported_date
        and leg_kpis.central_id = journey_kpis.central_id
        and leg_kpis.call_kind = journey_kpis.call_kind
