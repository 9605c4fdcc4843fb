{%- set rebuilt_by = ['fct_calls', 'fct_call_reconciliation'] %}
{%- set days = rebuilt_days(rebuilt_by) if is_incremental() else [] %}
{%- set reasons = [
    'matched', 'outcome_differs', 'durations_differ', 'missing_from_pushes', 'final_push_missing',
    'missing_from_report', 'still_running', 'not_pulled', 'sms_not_reported',
    'voice_bot_duplicate',
] %}

-- Coverage of the pushes against the report per day x central x queue, with the report's own
-- report_01 totals of the day beside ours: those are day-level, repeated on each queue's row.
with

entries as (

    select
        *,
        coalesce(queue, 'none') as queue_or_none
    from ({{ rows_on_rebuilt_days('fct_call_reconciliation', rebuilt_by=rebuilt_by, days=days) }}) as rebuilt

),

calls as (

    {{ rows_on_rebuilt_days('fct_calls', rebuilt_by=rebuilt_by, days=days) }}

),

by_queue as (

    select
        reported_date,
        central_id,
        queue_or_none as queue,
        sum(case when in_report and not is_voice_bot_entry then 1 else 0 end) as calls_in_report,
        sum(case when in_pushes then 1 else 0 end) as calls_in_pushes,
        sum(case when in_pushes and in_report then 1 else 0 end) as calls_in_both,
        sum(case when in_report and has_final_push then 1 else 0 end) as calls_with_final_push_in_both,
        sum(case when final_state_source = 'report' and not is_voice_bot_entry then 1 else 0 end)
            as calls_from_report,
        {%- for reason in reasons %}
            sum(case when reason = '{{ reason }}' then 1 else 0 end) as {{ reason }}_calls,
        {%- endfor %}
        sum(case when queue_differs then 1 else 0 end) as queue_differs_calls,
        sum(case when agent_differs then 1 else 0 end) as agent_differs_calls,
        sum(case when dq_report_parse_errors then 1 else 0 end) as report_parse_error_calls
    from entries
    group by reported_date, central_id, queue_or_none

),

{%- set day_counts = kpi_counts() %}
{%- do day_counts.update({
    'answered_inbound': "sum(case when call_kind = 'inbound' and is_answered then 1 else 0 end)",
    'answered_outbound': "sum(case when call_kind = 'outbound' and is_answered then 1 else 0 end)",
}) %}

ours as (

    select
        reported_date,
        central_id,
        {{ day_counts['inbound_calls'] }} as inbound_calls,
        {{ day_counts['offered'] }} as offered,
        {{ day_counts['answered_inbound'] }} as answered_inbound,
        {{ day_counts['abandoned'] }} as abandoned_queue,
        {{ day_counts['abandoned_ivr'] }} as abandoned_ivr,
        {{ day_counts['retained_ivr'] }} as retained_ivr,
        {{ day_counts['outbound_calls'] }} as outbound_calls,
        {{ day_counts['answered_outbound'] }} as answered_outbound,
        {{ kpi_ratios(day_counts, ['asa_seconds']) }},
        max(case when is_offered and is_answered then wait_seconds end) as max_wait_seconds,
        {{ rounded('avg(case when is_answered then duration_seconds end)', 2) }} as mean_duration_seconds,
        max(case when is_answered then duration_seconds end) as max_duration_seconds
    from calls
    group by reported_date, central_id

),

pulled_days as (

    select * from {{ ref('int_report_days') }}

)

select
    {{ surrogate_key(['by_queue.reported_date', 'by_queue.central_id', 'by_queue.queue']) }} as kpi_key,
    by_queue.*,
    {{ ratio('by_queue.calls_in_both', 'by_queue.calls_in_report') }} as coverage,
    {{ ratio('by_queue.calls_with_final_push_in_both', 'by_queue.calls_in_report') }} as final_push_coverage,
    pulled_days.pulled_at as day_pulled_at,
    pulled_days.call_rows_without_call_id as day_report_rows_without_call_id,
    pulled_days.call_rows_with_parse_errors as day_report_rows_with_parse_errors,
    pulled_days.ivr_calls as day_report_ivr_calls,
    ours.inbound_calls as day_inbound_calls,
    pulled_days.queue_legs as day_report_queue_legs,
    ours.offered as day_offered,
    pulled_days.answered_inbound as day_report_answered_inbound,
    ours.answered_inbound as day_answered_inbound,
    pulled_days.abandoned_queue as day_report_abandoned_queue,
    ours.abandoned_queue as day_abandoned_queue,
    pulled_days.abandoned_ivr as day_report_abandoned_ivr,
    ours.abandoned_ivr as day_abandoned_ivr,
    pulled_days.retained_ivr as day_report_retained_ivr,
    ours.retained_ivr as day_retained_ivr,
    pulled_days.outbound_calls as day_report_outbound_calls,
    ours.outbound_calls as day_outbound_calls,
    pulled_days.answered_outbound as day_report_answered_outbound,
    ours.answered_outbound as day_answered_outbound,
    pulled_days.mean_wait_seconds as day_report_mean_wait_seconds,
    ours.asa_seconds as day_asa_seconds,
    pulled_days.max_wait_seconds as day_report_max_wait_seconds,
    ours.max_wait_seconds as day_max_wait_seconds,
    pulled_days.mean_duration_seconds as day_report_mean_duration_seconds,
    ours.mean_duration_seconds as day_mean_duration_seconds,
    pulled_days.max_duration_seconds as day_report_max_duration_seconds,
    ours.max_duration_seconds as day_max_duration_seconds,
    {{ run_started_at_utc() }} as built_at
from by_queue
left join ours
    on by_queue.reported_date = ours.reported_date and by_queue.central_id = ours.central_id
left join pulled_days
    on by_queue.central_id = pulled_days.central_id and by_queue.reported_date = pulled_days.report_day
