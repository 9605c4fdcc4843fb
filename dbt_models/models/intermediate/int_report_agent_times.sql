{{ config(materialized='table') }}

-- report_03 per day x central x extension (rows without an extension together, as `unknown`).
-- Small (agents x days): rebuilt whole; the marts read the days int_report_days rebuilt.
with

agent_times as (

    select
        *,
        coalesce(branch_mask, 'unknown') as branch_mask_or_unknown
    from {{ ref('stg_pbx55__report_agent_times') }}

)

select
    {{ surrogate_key(['central_id', 'report_day', 'branch_mask_or_unknown']) }} as agent_day_key,
    central_id,
    report_day,
    report_day as reported_date,
    branch_mask_or_unknown as branch_mask,
    count(*) as report_rows,
    sum(talk_seconds) as talk_seconds,
    sum(idle_seconds) as idle_seconds,
    sum(paused_seconds) as paused_seconds,
    {{ rounded('avg(productivity)', 4) }} as productivity,
    sum(answered_inbound) as answered_inbound,
    sum(refusals) as refusals,
    bool_or(parse_errors is not null) as has_parse_errors
from agent_times
group by central_id, report_day, branch_mask_or_unknown
