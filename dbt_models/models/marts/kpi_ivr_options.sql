-- Receptive journeys by the IVR option of their first leg.
with

journeys as (

    select
        reported_date,
        central_id,
        coalesce(ura_option, 'none') as ura_option,
        count(*) as journeys,
        sum(case when is_answered then 1 else 0 end) as journeys_answered
    from {{ ref('fct_journeys') }}
    where journey_kind = 'inbound'
    group by reported_date, central_id, coalesce(ura_option, 'none')

)

select
    *,
    {{ ratio('journeys', 'sum(journeys) over (partition by reported_date, central_id)') }} as share_of_journeys
from journeys
