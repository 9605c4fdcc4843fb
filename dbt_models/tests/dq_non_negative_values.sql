-- Data quality (kpis.md): waits, durations and cost are never negative.
{{ config(severity='warn') }}

select
    central_id,
    call_id,
    wait_seconds,
    talk_seconds,
    duration_seconds,
    cost
from {{ ref('fct_calls') }}
where dq_negative_value
