{{ config(materialized='view') }}

{%- set typed_fields = [
    'call_date', 'call_time_ura', 'call_time_waiting', 'call_time_spoken',
    'call_time_total_duration', 'wy_branch_mask_agent', 'call_area_code',
] %}

with

current_rows as (

    select * from {{ ref('base_pbx55__report_calls') }}

),

present as (

    select
        central_id,
        report_day,
        row_in_answer,
        pulled_at,
        pull_load_id,
        pull_staged_at,
        has_recording,
        {{ report_present('call_id') }} as call_id,
        {{ report_present('call_id_origin') }} as call_id_origin,
        {{ report_present('type_call') }} as type_call_raw,
        {{ report_present('queue_name') }} as queue,
        {{ report_present('queue_id') }} as queue_id,
        {{ report_present('call_number_input') }} as did,
        {{ report_present('call_disconnection') }} as call_disconnection_raw,
        {%- for field in typed_fields %}
            {{ report_present(field) }} as {{ field }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from current_rows

),

typed as (

    select
        *,
        {{ report_wall_time('call_date') }} as call_date_typed,
        {{ report_seconds('call_time_ura') }} as call_time_ura_typed,
        {{ report_seconds('call_time_waiting') }} as call_time_waiting_typed,
        {{ report_seconds('call_time_spoken') }} as call_time_spoken_typed,
        {{ report_seconds('call_time_total_duration') }} as call_time_total_duration_typed,
        {{ report_extension('wy_branch_mask_agent') }} as wy_branch_mask_agent_typed,
        -- The DDD, also with a trunk 0 (`011`).
        case
            when {{ regex_matches('call_area_code', "'^0?[1-9][0-9]$'") }}
                then {{ dbt.right('call_area_code', 2) }}
        end as call_area_code_typed
    from present

),

vocabulary as (

    select
        typed.*,
        call_types.status as mapped_status,
        call_types.call_kind as mapped_call_kind,
        coalesce(call_types.is_answered, false) as status_is_answered,
        case
            when typed.call_disconnection_raw is not null
                then coalesce(disconnections.disconnection, 'unknown')
        end as disconnection,
        case
            when typed.call_disconnection_raw is not null
                then coalesce(disconnections.hung_up_by, 'unknown')
        end as hung_up_by
    from typed
    left join {{ ref('report_call_type_map') }} as call_types
        on {{ normalise_label('typed.type_call_raw') }} = call_types.raw_value
    left join {{ ref('call_disconnection_map') }} as disconnections
        on {{ normalise_label('typed.call_disconnection_raw') }} = disconnections.raw_value

),

kinds as (

    select
        *,
        case when type_call_raw is not null then coalesce(mapped_status, 'unknown') end as status,
        -- The report has no direction: refused and unanswered calls are outbound, an IVR end
        -- and an abandon inbound (the seed), a call in a queue inbound, an answered call
        -- without a queue outbound.
        case
            when mapped_call_kind is not null then mapped_call_kind
            when queue is not null then 'inbound'
            when mapped_status is not null then 'outbound'
            else 'unknown'
        end as call_kind
    from vocabulary

)

select
    central_id,
    report_day,
    row_in_answer,
    pulled_at,
    pull_load_id,
    pull_staged_at,
    call_id,
    call_id_origin,
    type_call_raw,
    status,
    call_kind,
    -- The pushes' vocabulary (int_calls__reduced).
    case
        {{ finished_leg_outcome_branches(
            'status_is_answered or coalesce(call_time_spoken_typed, 0) > 0', 'call_kind', 'status', 'queue'
        ) }}
    end as outcome,
    coalesce(
        {{ normalise_label('queue') }} like '%{{ var("voice_bot_queue_suffix") | lower }}', false
    ) as is_voice_bot_entry,
    queue,
    queue_id,
    wy_branch_mask_agent_typed as branch_mask,
    did,
    call_area_code_typed as caller_ddd,
    call_date_typed as started_at,
    {{ reporting_time_to_utc('call_date_typed') }} as started_at_utc,
    call_time_ura_typed as ivr_seconds,
    call_time_waiting_typed as wait_seconds,
    call_time_spoken_typed as talk_seconds,
    call_time_total_duration_typed as duration_seconds,
    call_disconnection_raw,
    disconnection,
    hung_up_by,
    has_recording,
    {{ report_parse_errors(typed_fields) }} as parse_errors,
    {{ report_parse_errors(typed_fields) }} is not null as dq_parse_errors,
    call_id is null as dq_no_call_id
from kinds
