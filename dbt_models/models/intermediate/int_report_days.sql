{#
    One row per day pulled (central_id, report_day): its current pull, what its report_02 and
    report_03 rows hold, and its report_01 totals. Incremental: the days pulled again since the
    last run are rebuilt; their stamp tells the marts which days to recompute.
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['central_id', 'report_day'],
        on_schema_change='append_new_columns',
    )
}}

with

pulls as (

    select * from {{ ref('stg_pbx55__report_pulls') }}
    {% if is_incremental() %}
        where staged_at > {{ high_watermark('built_at') }}
    {% endif %}

),

call_rows as (

    select
        report_rows.central_id,
        report_rows.report_day,
        count(*) as call_rows,
        sum(case when report_rows.is_voice_bot_entry then 1 else 0 end) as voice_bot_rows,
        sum(case when report_rows.dq_no_call_id then 1 else 0 end) as call_rows_without_call_id,
        sum(case when report_rows.dq_parse_errors then 1 else 0 end) as call_rows_with_parse_errors
    from {{ ref('stg_pbx55__report_calls') }} as report_rows
    inner join pulls
        on report_rows.central_id = pulls.central_id and report_rows.report_day = pulls.report_day
    group by report_rows.central_id, report_rows.report_day

),

agent_rows as (

    select
        agent_times.central_id,
        agent_times.report_day,
        count(*) as agent_rows,
        sum(case when agent_times.parse_errors is not null then 1 else 0 end) as agent_rows_with_parse_errors
    from {{ ref('stg_pbx55__report_agent_times') }} as agent_times
    inner join pulls
        on agent_times.central_id = pulls.central_id and agent_times.report_day = pulls.report_day
    group by agent_times.central_id, agent_times.report_day

),

day_totals as (

    select day_totals.*
    from {{ ref('stg_pbx55__report_day_totals') }} as day_totals
    inner join pulls
        on day_totals.central_id = pulls.central_id and day_totals.report_day = pulls.report_day

)

select
    {{ surrogate_key(['pulls.central_id', 'pulls.report_day']) }} as report_day_key,
    pulls.central_id,
    pulls.report_day,
    pulls.report_day as reported_date,
    pulls.pulled_at,
    pulls.pull_load_id,
    pulls.api_host,
    coalesce(call_rows.call_rows, 0) as call_rows,
    coalesce(call_rows.voice_bot_rows, 0) as voice_bot_rows,
    coalesce(call_rows.call_rows_without_call_id, 0) as call_rows_without_call_id,
    coalesce(call_rows.call_rows_with_parse_errors, 0) as call_rows_with_parse_errors,
    coalesce(agent_rows.agent_rows, 0) as agent_rows,
    coalesce(agent_rows.agent_rows_with_parse_errors, 0) as agent_rows_with_parse_errors,
    day_totals.ivr_calls,
    day_totals.queue_legs,
    day_totals.answered_inbound,
    day_totals.abandoned_queue,
    day_totals.abandoned_ivr,
    day_totals.retained_ivr,
    day_totals.outbound_calls,
    day_totals.answered_outbound,
    day_totals.mean_wait_seconds,
    day_totals.max_wait_seconds,
    day_totals.mean_duration_seconds,
    day_totals.max_duration_seconds,
    day_totals.parse_errors as day_totals_parse_errors,
    pulls.staged_at as pull_staged_at,
    {{ run_started_at_utc() }} as built_at
from pulls
left join call_rows
    on pulls.central_id = call_rows.central_id and pulls.report_day = call_rows.report_day
left join agent_rows
    on pulls.central_id = agent_rows.central_id and pulls.report_day = agent_rows.report_day
left join day_totals
    on pulls.central_id = day_totals.central_id and pulls.report_day = day_totals.report_day
