-- Data quality (kpis.md): per central, previous balance - cost ~ balance. Gaps mean top-ups or
-- missing pushes.
{{ config(severity='warn') }}

with

balances as (

    select
        central_id,
        call_id,
        cost,
        balance_after,
        lag(balance_after) over (
            partition by central_id
            order by coalesce(started_at_utc, first_received_at), call_id
        ) as previous_balance
    from {{ ref('fct_calls') }}
    where balance_after is not null and cost is not null

)

select *
from balances
where abs(previous_balance - cost - balance_after) > {{ var('cost_tolerance') }}
