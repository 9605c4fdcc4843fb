-- Share of finished voice legs by mapped disconnection origin (raw values map via a seed).
with

legs as (

    select
        reported_date,
        central_id,
        coalesce(disconnection, 'none') as disconnection,
        coalesce(hung_up_by, 'unknown') as hung_up_by,
        count(*) as legs
    from {{ ref('fct_calls') }}
    where has_final_push and call_kind <> 'sms'
    group by
        reported_date,
        central_id,
        coalesce(disconnection, 'none'),
        coalesce(hung_up_by, 'unknown')

)

select
    *,
    {{ ratio('legs', 'sum(legs) over (partition by reported_date, central_id)') }} as share_of_legs
from legs
