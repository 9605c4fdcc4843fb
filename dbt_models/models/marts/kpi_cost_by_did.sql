-- Cost by DID (`call_terminal`, the company's trunk number, not the caller's).
select
    reported_date,
    central_id,
    coalesce(did, 'unknown') as did,
    call_kind,
    count(*) as legs,
    {{ rounded('sum(billed_minutes)', 1) }} as billed_minutes,
    {{ rounded('sum(coalesce(cost, 0))', 4) }} as cost_total,
    {{ ratio('sum(coalesce(cost, 0))', 'count(*)') }} as cost_per_call,
    {{ ratio('sum(coalesce(cost, 0))', 'sum(billed_minutes)') }} as cost_per_billed_minute
from {{ ref('fct_calls') }}
group by reported_date, central_id, coalesce(did, 'unknown'), call_kind
