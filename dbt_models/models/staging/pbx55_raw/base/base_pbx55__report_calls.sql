{{ config(materialized='view') }}

{%- set fields = [
    'call_id', 'call_id_origin', 'type_call', 'call_date', 'queue_name', 'queue_id',
    'call_time_ura', 'call_time_waiting', 'call_time_spoken', 'call_time_total_duration',
    'wy_branch_mask_agent', 'call_area_code', 'call_number_input', 'call_disconnection',
] %}

-- report_02 rows of each day's current pull, as sent. Of the personal fields only whether a
-- recording was listed leaves this view, never the URL.
with

current_rows as (

    {{ current_pull_rows('report_calls', fields + ['call_url_audio']) }}

)

select
    central_id,
    report_day,
    pulled_at,
    pull_load_id,
    pull_staged_at,
    row_in_answer,
    {{ fields | join(',\n    ') }},
    {{ blank_to_null('call_url_audio') }} is not null as has_recording
from current_rows
