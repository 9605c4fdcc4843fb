{{ config(materialized='view') }}

{%- set typed_fields = {
    'wy_branch_mask_agent': 'branch_mask',
    'time_total_spoken': 'talk_seconds',
    'time_idle': 'idle_seconds',
    'time_total_paused': 'paused_seconds',
    'productivity': 'productivity',
    'attended_receptive': 'answered_inbound',
    'quantity_refusal': 'refusals',
} %}

with

current_rows as (

    select * from {{ ref('base_pbx55__report_agent_times') }}

),

present as (

    select
        central_id,
        report_day,
        row_in_answer,
        pulled_at,
        pull_load_id,
        pull_staged_at,
        {%- for field in typed_fields %}
            {{ report_present(field) }} as {{ field }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from current_rows

),

typed as (

    select
        *,
        {{ report_extension('wy_branch_mask_agent') }} as wy_branch_mask_agent_typed,
        {{ report_seconds('time_total_spoken') }} as time_total_spoken_typed,
        {{ report_seconds('time_idle') }} as time_idle_typed,
        {{ report_seconds('time_total_paused') }} as time_total_paused_typed,
        {{ report_percent_as_ratio('productivity') }} as productivity_typed,
        {{ report_count('attended_receptive') }} as attended_receptive_typed,
        {{ report_count('quantity_refusal') }} as quantity_refusal_typed
    from present

)

select
    central_id,
    report_day,
    row_in_answer,
    pulled_at,
    pull_load_id,
    pull_staged_at,
    {%- for field, name in typed_fields.items() %}
        {{ field }}_typed as {{ name }},
    {%- endfor %}
    {{ report_parse_errors(typed_fields | list) }} as parse_errors
from typed
