{{ config(materialized='view') }}

-- report_03 rows of each day's current pull, as sent; the agent's name is never selected.
{{ current_pull_rows('report_agent_times', [
    'wy_branch_mask_agent', 'time_total_spoken', 'time_idle', 'time_total_paused',
    'productivity', 'attended_receptive', 'quantity_refusal',
]) }}
