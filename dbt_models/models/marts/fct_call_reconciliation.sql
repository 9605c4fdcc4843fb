{#
    One row per call either source knows, and one per voice-bot entry of the report: what the
    pushes say (int_calls__reduced, before the report completes anything) beside what the
    report says (int_report_calls), and why they differ. Rebuilt by whole reporting day, as the
    KPI marts are: the days of the calls rebuilt in fct_calls, of the calls whose report entries
    changed, and of the days pulled again (a first pull turns `not_pulled` into a reason).
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='reported_date',
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_days_calls_left() }}",
    )
}}

{%- set rebuilt_by = ['fct_calls', 'int_report_calls', 'int_report_days'] %}
{%- set days = rebuilt_days(rebuilt_by) if is_incremental() else [] %}
{%- set tolerance = var('reconciliation_tolerance_s') %}

with

calls as (

    {{ rows_on_rebuilt_days('fct_calls', rebuilt_by=rebuilt_by, days=days) }}

),

pushed as (

    select reduced.*
    from {{ ref('int_calls__reduced') }} as reduced
    inner join calls
        on reduced.central_id = calls.central_id and reduced.call_id = calls.call_id

),

reported as (

    select *
    from {{ ref('int_report_calls') }}
    where is_listed or voice_bot_entries > 0

),

pulled_days as (

    select * from {{ ref('int_report_days') }}

),

call_rows as (

    select
        calls.central_id,
        calls.call_id,
        false as is_voice_bot_entry,
        calls.reported_date,
        calls.call_kind,
        calls.final_state_source,
        pushed.call_id is not null as in_pushes,
        coalesce(reported.is_listed, false) as in_report,
        calls.push_count,
        calls.has_final_push,
        -- When the call ended, as far as the pushes know: its start plus its duration.
        coalesce(
            {{ dbt.dateadd('second', 'coalesce(pushed.duration_seconds, 0)', 'pushed.started_at_utc') }},
            pushed.last_received_at
        ) as pushed_ended_at,
        pushed.outcome as push_outcome,
        case when reported.is_listed then reported.outcome end as report_outcome,
        pushed.wait_seconds as push_wait_seconds,
        case when reported.is_listed then reported.wait_seconds end as report_wait_seconds,
        pushed.talk_seconds as push_talk_seconds,
        case when reported.is_listed then reported.talk_seconds end as report_talk_seconds,
        pushed.queue as push_queue,
        case when reported.is_listed then reported.queue end as report_queue,
        pushed.branch_mask as push_branch_mask,
        case when reported.is_listed then reported.branch_mask end as report_branch_mask,
        reported.report_day,
        coalesce(reported.has_parse_errors, false) as dq_report_parse_errors
    from calls
    left join pushed
        on calls.central_id = pushed.central_id and calls.call_id = pushed.call_id
    left join reported
        on calls.central_id = reported.central_id and calls.call_id = reported.call_id

),

voice_bot_entries as (

    -- The voice bot's entries of a call (its second row in the report), on the call's day.
    select
        reported.*,
        calls.final_state_source,
        coalesce(calls.reported_date, reported.reported_date) as entry_reported_date
    from reported
    left join {{ ref('fct_calls') }} as calls
        on reported.central_id = calls.central_id and reported.call_id = calls.call_id
    where reported.voice_bot_entries > 0

),

voice_bot_rows as (

    select
        central_id,
        call_id,
        true as is_voice_bot_entry,
        entry_reported_date as reported_date,
        'inbound' as call_kind,
        final_state_source,
        false as in_pushes,
        true as in_report,
        cast(null as {{ dbt.type_bigint() }}) as push_count,
        cast(null as boolean) as has_final_push,
        cast(null as timestamptz) as pushed_ended_at,
        cast(null as {{ dbt.type_string() }}) as push_outcome,
        voice_bot_outcome as report_outcome,
        cast(null as {{ dbt.type_bigint() }}) as push_wait_seconds,
        voice_bot_wait_seconds as report_wait_seconds,
        cast(null as {{ dbt.type_bigint() }}) as push_talk_seconds,
        voice_bot_talk_seconds as report_talk_seconds,
        cast(null as {{ dbt.type_string() }}) as push_queue,
        voice_bot_queue as report_queue,
        cast(null as {{ dbt.type_string() }}) as push_branch_mask,
        cast(null as {{ dbt.type_string() }}) as report_branch_mask,
        report_day,
        has_parse_errors as dq_report_parse_errors
    from voice_bot_entries
    {% if is_incremental() %}
        where {{ reported_date_in(days, 'entry_reported_date') }}
    {% endif %}

),

compared as (

    select
        entries.*,
        pulled_days.pulled_at as day_pulled_at,
        entries.report_wait_seconds - entries.push_wait_seconds as wait_difference_seconds,
        entries.report_talk_seconds - entries.push_talk_seconds as talk_difference_seconds,
        case
            when entries.in_pushes and entries.in_report then entries.push_queue <> entries.report_queue
        end as queue_differs,
        case
            when entries.in_pushes and entries.in_report
                then entries.push_branch_mask <> entries.report_branch_mask
        end as agent_differs
    from (
        select * from call_rows
        union all
        select * from voice_bot_rows
    ) as entries
    left join pulled_days
        on entries.central_id = pulled_days.central_id and entries.reported_date = pulled_days.report_day

),

final as (

    select
        {{ surrogate_key(['central_id', 'call_id', 'is_voice_bot_entry']) }} as reconciliation_key,
        central_id,
        call_id,
        is_voice_bot_entry,
        reported_date,
        report_day,
        coalesce(report_queue, push_queue) as queue,
        call_kind,
        final_state_source,
        case
            when is_voice_bot_entry then 'voice_bot_duplicate'
            when in_report and not in_pushes then 'missing_from_pushes'
            when in_report and not has_final_push then 'final_push_missing'
            when in_report and push_outcome <> report_outcome then 'outcome_differs'
            when
                in_report
                and (
                    abs(coalesce(report_wait_seconds, 0) - coalesce(push_wait_seconds, 0)) > {{ tolerance }}
                    or abs(coalesce(report_talk_seconds, 0) - coalesce(push_talk_seconds, 0)) > {{ tolerance }}
                )
                then 'durations_differ'
            when in_report then 'matched'
            -- The report lists finished calls of the day pulled, never an SMS.
            when call_kind = 'sms' then 'sms_not_reported'
            when day_pulled_at is null then 'not_pulled'
            when not has_final_push or pushed_ended_at > day_pulled_at then 'still_running'
            else 'missing_from_report'
        end as reason,
        in_pushes,
        in_report,
        push_count,
        has_final_push,
        day_pulled_at,
        push_outcome,
        report_outcome,
        push_wait_seconds,
        report_wait_seconds,
        wait_difference_seconds,
        push_talk_seconds,
        report_talk_seconds,
        talk_difference_seconds,
        push_queue,
        report_queue,
        queue_differs,
        push_branch_mask,
        report_branch_mask,
        agent_differs,
        dq_report_parse_errors,
        {{ run_started_at_utc() }} as built_at
    from compared

)

select * from final
