{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['central_id', 'call_id'],
        on_schema_change='append_new_columns',
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

calls as (

    select
        reduced.*,
        {% if is_incremental() %}
            counted_before.reported_date as previous_reported_date
        {% else %}
            cast(null as date) as previous_reported_date
        {% endif %}
    from {{ ref('int_calls__reduced') }} as reduced
    {% if is_incremental() %}
        inner join calls_to_rebuild
            on
                reduced.central_id = calls_to_rebuild.central_id
                and reduced.call_id = calls_to_rebuild.call_id
        left join {{ this }} as counted_before
            on
                reduced.central_id = counted_before.central_id
                and reduced.call_id = counted_before.call_id
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
        -- talk time. Legs without a tariff (an inbound call is paid by the caller) bill nothing.
        case
            when coalesce(tariffs.is_voice, false) and calls.talk_seconds > 0
                then
                    case
                        when calls.talk_seconds <= 30 then 30
                        else cast(ceil(calls.talk_seconds / 6.0) * 6 as {{ dbt.type_bigint() }})
                    end
            else 0
        end as billed_seconds,
        coalesce(calls.started_at, {{ to_reporting_time('calls.first_received_at') }}) as reported_at
    from calls
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
        reduced_at,
        {{ run_started_at_utc() }} as built_at
    from enriched

)

select * from final
