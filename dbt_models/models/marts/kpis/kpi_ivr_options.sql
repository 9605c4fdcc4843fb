-- Receptive journeys by the IVR option of their first leg.
with

journeys_in_scope as (

    {{ rows_on_rebuilt_days('fct_journeys', rebuilt_by=['fct_calls', 'fct_journeys']) }}

),

journeys as (

    select
        reported_date,
        central_id,
        coalesce(ura_option, 'none') as ura_option,
        count(*) as journeys,
        sum(case when is_answered then 1 else 0 end) as journeys_answered,
        sum(legs_from_report) as calls_from_report
    from journeys_in_scope
    where journey_kind = 'inbound'
    group by reported_date, central_id, coalesce(ura_option, 'none')

)

select
    {{ surrogate_key(['reported_date', 'central_id', 'ura_option']) }} as kpi_key,
    *,
    {{ kpi_ratios(
        {'journeys': 'journeys', 'journeys_in_group': 'sum(journeys) over (partition by reported_date, central_id)'},
        ['share_of_journeys']
    ) }},
    {{ run_started_at_utc() }} as built_at
from journeys
