{%- set rebuilt_by = ['fct_calls', 'int_report_days'] %}
{#- Its rows are on pulled days only: before the first pull no day has any, and the mart, empty,
    would otherwise recompute every day of fct_calls on every run from its 1900 watermark. -#}
{%- set days = rebuilt_days(rebuilt_by) if is_incremental() and has_rows(ref('int_report_days')) else [] %}

-- The report's agent time (report_03) per day x central x extension, beside the legs the same
-- extension answered in fct_calls (branch_mask = Wy_branch_mask_agent), on the days pulled.
with

{%- set counts = kpi_counts() %}

agent_times as (

    select * from {{ ref('int_report_agent_times') }}
    {% if is_incremental() %}
        where {{ reported_date_in(days) }}
    {% endif %}

),

pulled_days as (

    select
        central_id,
        report_day
    from {{ ref('int_report_days') }}

),

calls_on_pulled_days as (

    select calls.*
    from ({{ rows_on_rebuilt_days('fct_calls', rebuilt_by=rebuilt_by, days=days) }}) as calls
    inner join pulled_days
        on calls.central_id = pulled_days.central_id and calls.reported_date = pulled_days.report_day
    where calls.branch_mask is not null

),

ours as (

    select
        reported_date,
        central_id,
        branch_mask,
        {{ counts['answered_legs'] }} as answered_legs,
        {{ counts['answered_talk_seconds'] }} as answered_talk_seconds,
        sum(case when call_kind = 'inbound' and is_answered then 1 else 0 end) as answered_inbound_legs,
        {{ counts['calls_from_report'] }} as calls_from_report
    from calls_on_pulled_days
    group by reported_date, central_id, branch_mask

),

joined as (

    select
        coalesce(agent_times.reported_date, ours.reported_date) as reported_date,
        coalesce(agent_times.central_id, ours.central_id) as central_id,
        coalesce(agent_times.branch_mask, ours.branch_mask) as branch_mask,
        agent_times.branch_mask is not null as in_report,
        agent_times.talk_seconds as report_talk_seconds,
        agent_times.idle_seconds as report_idle_seconds,
        agent_times.paused_seconds as report_paused_seconds,
        agent_times.productivity as report_productivity,
        agent_times.answered_inbound as report_answered_inbound,
        agent_times.refusals as report_refusals,
        coalesce(agent_times.has_parse_errors, false) as dq_report_parse_errors,
        coalesce(ours.answered_legs, 0) as answered_legs,
        coalesce(ours.answered_inbound_legs, 0) as answered_inbound_legs,
        coalesce(ours.answered_talk_seconds, 0) as answered_talk_seconds,
        coalesce(ours.calls_from_report, 0) as calls_from_report
    from agent_times
    full outer join ours
        on
            agent_times.reported_date = ours.reported_date
            and agent_times.central_id = ours.central_id
            and agent_times.branch_mask = ours.branch_mask

)

select
    {{ surrogate_key(['reported_date', 'central_id', 'branch_mask']) }} as kpi_key,
    reported_date,
    central_id,
    branch_mask,
    in_report,
    report_talk_seconds,
    report_idle_seconds,
    report_paused_seconds,
    -- Amazon Connect's occupancy: time on contacts / (time on contacts + idle time).
    {{ ratio('report_talk_seconds', 'report_talk_seconds + report_idle_seconds') }} as occupancy,
    report_productivity,
    report_answered_inbound,
    report_refusals,
    answered_legs,
    answered_inbound_legs,
    answered_talk_seconds,
    calls_from_report,
    dq_report_parse_errors,
    {{ run_started_at_utc() }} as built_at
from joined
