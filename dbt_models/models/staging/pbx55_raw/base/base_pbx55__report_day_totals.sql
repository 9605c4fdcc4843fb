{{ config(materialized='view') }}

-- The report_01 object of each day's current pull, as sent.
{{ current_pull_rows('report_day_totals', [
    'total_call_processed_ura', 'total_call_processed_queue', 'total_call_attended_receptive',
    'total_call_abandoned_queue', 'total_call_abandoned_ura', 'total_call_retained_ura',
    'total_call_active', 'total_call_attended_active', 'time_medium_waiting_attendance',
    'time_max_waiting_attendance', 'time_medium_duration_call', 'time_max_duration_call',
], per_row=false) }}
