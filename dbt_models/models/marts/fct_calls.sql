{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['central_id', 'call_id'],
        on_schema_change='append_new_columns',
        post_hook="{{ delete_calls_the_report_dropped() }}",
    )
}}

with

{% if is_incremental() %}
    changed_calls as (

        select
            central_id,
            call_id
        from {{ ref('int_calls__reduced') }}
        where reduced_at > {{ high_watermark('reduced_at') }}

        union

        -- A new pull of its day listed the call, changed it or no longer lists it.
        select
            central_id,
            call_id
        from {{ ref('int_report_calls') }}
        where built_at > {{ high_watermark('built_at') }}

    ),

    -- A changed leg can move its whole journey (a new parent, a new root): rebuild every leg of
    -- the journeys it belongs to now and belonged to before.
    changed_journeys as (

        select
            legs.central_id,
            legs.journey_id
        from {{ ref('int_journey_legs') }} as legs
        inner join changed_calls
            on legs.central_id = changed_calls.central_id and legs.call_id = changed_calls.call_id

        union

        select
            calls.central_id,
            calls.journey_id
        from {{ this }} as calls
        inner join changed_calls
            on calls.central_id = changed_calls.central_id and calls.call_id = changed_calls.call_id

    ),

    calls_to_rebuild as (

        select
            central_id,
            call_id
        from changed_calls

        union

        select
            legs.central_id,
            legs.call_id
        from {{ ref('int_journey_legs') }} as legs
        inner join changed_journeys
            on
                legs.central_id = changed_journeys.central_id
                and legs.journey_id = changed_journeys.journey_id

        union

        select
            calls.central_id,
            calls.call_id
        from {{ this }} as calls
        inner join changed_journeys
            on
                calls.central_id = changed_journeys.central_id
                and calls.journey_id = changed_journeys.journey_id

    ),
{% endif %}

pushed as (

    select reduced.*
    from {{ ref('int_calls__reduced') }} as reduced
    {% if is_incremental() %}
        inner join calls_to_rebuild
            on
                reduced.central_id = calls_to_rebuild.central_id
                and reduced.call_id = calls_to_rebuild.call_id
    {% endif %}

),

reported as (

    select listed.*
    from {{ ref('int_report_calls') }} as listed
    {% if is_incremental() %}
        inner join calls_to_rebuild
            on
                listed.central_id = calls_to_rebuild.central_id
                and listed.call_id = calls_to_rebuild.call_id
    {% endif %}
    where listed.is_listed

),

sourced as (

    -- Every call either source knows. The report gives the final state of a call whose final
    -- push never came (or no push at all): outcome, wait, talk, duration, queue and agent; it
    -- knows no cost, tariff or balance.
    select
        coalesce(pushed.central_id, reported.central_id) as central_id,
        coalesce(pushed.call_id, reported.call_id) as call_id,
        case
            when coalesce(pushed.has_final_push, false) and reported.call_id is not null then 'both'
            when reported.call_id is not null then 'report'
            else 'pushes'
        end as final_state_source,
        pushed.call_key,
        pushed.call_kind as pushed_call_kind,
        pushed.outcome as pushed_outcome,
        pushed.final_status,
        pushed.started_at as pushed_started_at,
        pushed.started_at_utc as pushed_started_at_utc,
        pushed.queue as pushed_queue,
        pushed.branch_mask as pushed_branch_mask,
        pushed.branch_email_token,
        pushed.call_terminal,
        pushed.transfer_call_id,
        pushed.ura_option,
        pushed.disconnection as pushed_disconnection,
        pushed.hung_up_by as pushed_hung_up_by,
        pushed.wait_seconds as pushed_wait_seconds,
        pushed.talk_seconds as pushed_talk_seconds,
        pushed.duration_seconds as pushed_duration_seconds,
        pushed.tax_type,
        pushed.tax_per_minute,
        pushed.cost as pushed_cost,
        pushed.balance_after as pushed_balance_after,
        pushed.has_recording as pushed_has_recording,
        pushed.caller_token,
        pushed.caller_ddd as pushed_caller_ddd,
        pushed.caller_masked,
        pushed.caller_number_type,
        pushed.document_token,
        pushed.document_kind,
        pushed.push_count,
        pushed.has_final_push,
        pushed.late_push_count,
        pushed.has_parse_errors,
        pushed.has_nul_replaced,
        pushed.first_received_at,
        pushed.last_received_at,
        pushed.reduced_at,
        reported.call_kind as reported_call_kind,
        reported.outcome as reported_outcome,
        reported.status as reported_status,
        reported.started_at as reported_started_at,
        reported.started_at_utc as reported_started_at_utc,
        reported.report_day,
        reported.queue as reported_queue,
        reported.branch_mask as reported_branch_mask,
        reported.did as reported_did,
        reported.caller_ddd as reported_caller_ddd,
        reported.disconnection as reported_disconnection,
        reported.hung_up_by as reported_hung_up_by,
        reported.wait_seconds as reported_wait_seconds,
        reported.talk_seconds as reported_talk_seconds,
        reported.duration_seconds as reported_duration_seconds,
        reported.has_recording as reported_has_recording,
        reported.has_parse_errors as reported_has_parse_errors
    from pushed
    full outer join reported
        on pushed.central_id = reported.central_id and pushed.call_id = reported.call_id

),

calls as (

    select
        coalesce(call_key, {{ surrogate_key(['central_id', 'call_id']) }}) as call_key,
        central_id,
        call_id,
        final_state_source,
        -- The pushes name the kind (call_type); the report's is inferred (no direction field).
        coalesce(nullif(pushed_call_kind, 'unknown'), reported_call_kind, 'unknown') as call_kind,
        case when final_state_source = 'report' then reported_outcome else pushed_outcome end
            as outcome,
        case when final_state_source = 'report' then reported_status else final_status end
            as final_status,
        coalesce(pushed_started_at, reported_started_at) as started_at,
        coalesce(pushed_started_at_utc, reported_started_at_utc) as started_at_utc,
        report_day,
        case when final_state_source = 'report' then reported_queue else pushed_queue end as queue,
        case when final_state_source = 'report' then reported_branch_mask else pushed_branch_mask end
            as branch_mask,
        branch_email_token,
        coalesce(call_terminal, reported_did) as call_terminal,
        transfer_call_id,
        ura_option,
        case when final_state_source = 'report' then reported_disconnection else pushed_disconnection end
            as disconnection,
        case when final_state_source = 'report' then reported_hung_up_by else pushed_hung_up_by end
            as hung_up_by,
        case when final_state_source = 'report' then reported_wait_seconds else pushed_wait_seconds end
            as wait_seconds,
        case when final_state_source = 'report' then reported_talk_seconds else pushed_talk_seconds end
            as talk_seconds,
        case
            when final_state_source = 'report' then reported_duration_seconds else pushed_duration_seconds
        end as duration_seconds,
        tax_type,
        tax_per_minute,
        case when final_state_source <> 'report' then pushed_cost end as cost,
        case when final_state_source <> 'report' then pushed_balance_after end as balance_after,
        coalesce(pushed_has_recording, false) or coalesce(reported_has_recording, false) as has_recording,
        caller_token,
        coalesce(pushed_caller_ddd, reported_caller_ddd) as caller_ddd,
        caller_masked,
        caller_number_type,
        document_token,
        document_kind,
        coalesce(push_count, 0) as push_count,
        coalesce(has_final_push, false) as has_final_push,
        coalesce(late_push_count, 0) as late_push_count,
        coalesce(has_parse_errors, false) as has_parse_errors,
        coalesce(reported_has_parse_errors, false) as has_report_parse_errors,
        coalesce(has_nul_replaced, false) as has_nul_replaced,
        first_received_at,
        last_received_at,
        reduced_at
    from sourced

),

with_previous_day as (

    select
        calls.*,
        {% if is_incremental() %}
            counted_before.reported_date as previous_reported_date
        {% else %}
            cast(null as date) as previous_reported_date
        {% endif %}
    from calls
    {% if is_incremental() %}
        left join {{ this }} as counted_before
            on
                calls.central_id = counted_before.central_id
                and calls.call_id = counted_before.call_id
    {% endif %}

),

enriched as (

    select
        calls.*,
        coalesce(legs.journey_id, calls.call_id) as journey_id,
        coalesce(legs.journey_depth, 0) as journey_depth,
        coalesce(legs.is_transfer_in, false) as is_transfer_in,
        coalesce(legs.has_transfer_out, false) as has_transfer_out,
        areas.uf as caller_uf,
        areas.region as caller_region,
        coalesce(
            tariffs.tariff_class,
            case when calls.call_kind = 'sms' then 'SMS' else 'unknown' end
        ) as tariff_class,
        -- Anatel billing of a leg with a voice tariff class: 30 s minimum, then 6 s steps, on
        -- talk time. Legs without a tariff (an inbound call is paid by the caller) bill nothing;
        -- a call whose talk is unknown (no final state) bills an unknown amount.
        case
            when calls.call_kind <> 'sms' and calls.talk_seconds is null then null
            when coalesce(tariffs.is_voice, false) and calls.talk_seconds > 0
                then
                    case
                        when calls.talk_seconds <= 30 then 30
                        else cast(ceil(calls.talk_seconds / 6.0) * 6 as {{ dbt.type_bigint() }})
                    end
            else 0
        end as billed_seconds,
        -- A call only the report knows, without a start it could read, is placed on its day.
        coalesce(
            calls.started_at,
            {{ to_reporting_time('calls.first_received_at') }},
            cast(calls.report_day as timestamp)
        ) as reported_at
    from with_previous_day as calls
    left join {{ ref('int_journey_legs') }} as legs
        on calls.central_id = legs.central_id and calls.call_id = legs.call_id
    left join {{ ref('ddd_uf') }} as areas
        on calls.caller_ddd = areas.ddd
    left join {{ ref('tariff_class_map') }} as tariffs
        on {{ normalise_label('calls.tax_type') }} = tariffs.raw_value

),

final as (

    select
        call_key,
        central_id,
        call_id,
        journey_id,
        journey_depth,
        call_kind,
        outcome,
        final_state_source,
        final_status,
        started_at,
        started_at_utc,
        reported_at,
        cast(reported_at as date) as reported_date,
        -- A call reported by its receipt time until its call_date arrived moves to another day:
        -- the KPI marts recompute the day it left too (rebuilt_reported_dates).
        case
            when previous_reported_date <> cast(reported_at as date) then previous_reported_date
        end as moved_from_reported_date,
        queue,
        branch_mask,
        branch_email_token,
        call_terminal as did,
        ura_option,
        disconnection,
        hung_up_by,
        wait_seconds,
        talk_seconds,
        duration_seconds,
        tax_type,
        tariff_class,
        tax_per_minute,
        cost,
        balance_after,
        billed_seconds,
        {{ rounded('billed_seconds / 60.0', 1) }} as billed_minutes,
        has_recording,
        caller_token,
        caller_ddd,
        caller_uf,
        caller_region,
        caller_masked,
        caller_number_type,
        document_token,
        document_kind,
        transfer_call_id is not null as has_transfer_id,
        is_transfer_in,
        has_transfer_out,
        call_kind = 'inbound' and queue is not null as is_offered,
        outcome = 'answered' as is_answered,
        outcome = 'abandoned_queue'
        and coalesce(wait_seconds, 0) < {{ var('short_abandon_s') }} as is_short_abandon,
        push_count,
        has_final_push,
        -- No final state (no final push, no report row): the wait is a start push's wait so far.
        final_state_source = 'pushes' and not has_final_push as is_wait_partial,
        late_push_count,
        first_received_at,
        last_received_at,
        coalesce(talk_seconds > duration_seconds, false) as dq_talk_exceeds_duration,
        coalesce(
            wait_seconds < 0 or talk_seconds < 0 or duration_seconds < 0 or cost < 0, false
        ) as dq_negative_value,
        coalesce(
            tariff_class not in ('SMS', 'unknown')
            and abs(cost - tax_per_minute * (cast(billed_seconds as numeric(18, 4)) / 60))
            > {{ var('cost_tolerance') }},
            false
        ) as dq_cost_mismatch,
        started_at is null as dq_missing_call_date,
        has_parse_errors as dq_parse_errors,
        has_nul_replaced as dq_nul_replaced,
        has_report_parse_errors as dq_report_parse_errors,
        reduced_at,
        {{ run_started_at_utc() }} as built_at
    from enriched

)

select * from final
{% if not is_incremental() %}
    -- Stored in day order, so that the day marts' filter on the days they rebuild skips the row
    -- groups of other days (incremental runs append their days at the end anyway).
    order by reported_date
{% endif %}
