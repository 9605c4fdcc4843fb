-- Data quality (kpis.md): calls with no final push after the grace period are incomplete.
{{ config(severity='warn') }}

select
    central_id,
    call_id,
    last_received_at
from {{ ref('fct_calls') }}
where outcome = 'incomplete'
