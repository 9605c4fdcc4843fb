{{ config(materialized='view') }}

{%- set counts = {
    'total_call_processed_ura': 'ivr_calls',
    'total_call_processed_queue': 'queue_legs',
    'total_call_attended_receptive': 'answered_inbound',
    'total_call_abandoned_queue': 'abandoned_queue',
    'total_call_abandoned_ura': 'abandoned_ivr',
    'total_call_retained_ura': 'retained_ivr',
    'total_call_active': 'outbound_calls',
    'total_call_attended_active': 'answered_outbound',
} %}
{%- set times = {
    'time_medium_waiting_attendance': 'mean_wait_seconds',
    'time_max_waiting_attendance': 'max_wait_seconds',
    'time_medium_duration_call': 'mean_duration_seconds',
    'time_max_duration_call': 'max_duration_seconds',
} %}

with

current_rows as (

    select * from {{ ref('base_pbx55__report_day_totals') }}

),

present as (

    select
        central_id,
        report_day,
        pulled_at,
        pull_load_id,
        pull_staged_at,
        {%- for field in (counts | list) + (times | list) %}
            {{ report_present(field) }} as {{ field }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from current_rows

),

typed as (

    select
        *,
        {%- for field in counts %}
            {{ report_count(field) }} as {{ field }}_typed,
        {%- endfor %}
        {%- for field in times %}
            {{ report_seconds(field) }} as {{ field }}_typed{% if not loop.last %},{% endif %}
        {%- endfor %}
    from present

)

select
    central_id,
    report_day,
    pulled_at,
    pull_load_id,
    pull_staged_at,
    {%- for field, name in counts.items() %}
        {{ field }}_typed as {{ name }},
    {%- endfor %}
    {%- for field, name in times.items() %}
        {{ field }}_typed as {{ name }},
    {%- endfor %}
    {{ report_parse_errors((counts | list) + (times | list)) }} as parse_errors
from typed
