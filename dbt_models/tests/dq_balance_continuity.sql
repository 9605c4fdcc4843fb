-- Data quality (kpis.md): per central, previous balance - cost ~ balance. Gaps mean top-ups or
-- missing pushes. The balance moves when a call ends, so calls are taken in order of their end
-- (start + duration; the last receipt when the start is unknown), the call id breaking ties.
{{ config(severity='warn') }}

with

ended as (

    select
        central_id,
        call_id,
        cost,
        balance_after,
        coalesce(
            {{ dbt.dateadd('second', 'coalesce(duration_seconds, 0)', 'started_at_utc') }},
            last_received_at
        ) as ended_at
    from {{ ref('fct_calls') }}
    where balance_after is not null and cost is not null

),

balances as (

    select
        central_id,
        call_id,
        cost,
        balance_after,
        lag(balance_after) over (
            partition by central_id
            order by ended_at, call_id
        ) as previous_balance
    from ended

)

select *
from balances
where abs(previous_balance - cost - balance_after) > {{ var('cost_tolerance') }}
