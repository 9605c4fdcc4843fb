select
    reported_date,
    central_id,
    tariff_class,
    count(*) as legs,
    sum(case when is_answered then 1 else 0 end) as answered_legs,
    sum(coalesce(talk_seconds, 0)) as talk_seconds,
    sum(billed_seconds) as billed_seconds,
    {{ rounded('sum(billed_minutes)', 1) }} as billed_minutes,
    {{ rounded('sum(coalesce(cost, 0))', 4) }} as cost_total,
    {{ ratio('sum(coalesce(cost, 0))', 'count(*)') }} as cost_per_call,
    {{ ratio('sum(coalesce(cost, 0))', 'sum(case when is_answered then 1 else 0 end)') }}
        as cost_per_answered_call,
    {{ ratio('sum(coalesce(cost, 0))', 'sum(billed_minutes)') }} as cost_per_billed_minute,
    sum(case when dq_cost_mismatch then 1 else 0 end) as cost_mismatch_legs
from {{ ref('fct_calls') }}
group by reported_date, central_id, tariff_class
