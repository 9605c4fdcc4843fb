-- Data quality (kpis.md): call_time <= call_duration. Flags data, never a build failure.
{{ config(severity='warn') }}

select
    central_id,
    call_id,
    talk_seconds,
    duration_seconds
from {{ ref('fct_calls') }}
where dq_talk_exceeds_duration
