{%- set rebuilt_by = ['fct_calls', 'fct_journeys'] %}
{%- set days = rebuilt_days(rebuilt_by) if is_incremental() else [] %}

with

calls as (

    {{ rows_on_rebuilt_days('fct_calls', rebuilt_by=rebuilt_by, days=days) }}

),

journeys_in_scope as (

    {{ rows_on_rebuilt_days('fct_journeys', rebuilt_by=rebuilt_by, days=days) }}

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

{%- set journey_counts = {
    'journeys': 'count(*)',
    'journeys_abandoned': "sum(case when not is_answered and not has_unfinished_leg and final_outcome <> 'retained_ivr' then 1 else 0 end)",
    'journeys_transferred': 'sum(case when transfers > 0 then 1 else 0 end)',
    'journey_legs': 'sum(legs)',
    'journey_wait_seconds': 'sum(total_wait_seconds)',
    'journey_cost_amount': 'sum(total_cost)',
    'costed_journeys': 'count(total_cost)',
} %}
{%- for key in ['caller_24h', 'caller_168h', 'document_24h', 'document_168h'] %}
    {%- do journey_counts.update({
        'repeated_by_' ~ key: 'sum(case when is_repeated_by_' ~ key ~ ' then 1 else 0 end)',
        'repeat_known_' ~ key: 'count(is_repeated_by_' ~ key ~ ')',
    }) %}
{%- endfor %}

journey_kpis as (

    select
        reported_date,
        central_id,
        journey_kind as call_kind,
        count(*) as journeys,
        sum(case when is_answered then 1 else 0 end) as journeys_answered,
        {{ journey_counts['journeys_transferred'] }} as journeys_transferred,
        {{ kpi_ratios(journey_counts, [
            'journey_abandon_rate', 'journey_transfer_rate', 'legs_per_journey',
            'journey_wait_mean_seconds', 'journey_cost_mean', 'repeat_rate_caller_24h',
            'repeat_rate_caller_168h', 'repeat_rate_document_24h', 'repeat_rate_document_168h',
        ]) }}
    from journeys_in_scope
    group by reported_date, central_id, journey_kind

)

select
    {{ surrogate_key(['leg_kpis.reported_date', 'leg_kpis.central_id', 'leg_kpis.call_kind']) }} as kpi_key,
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
