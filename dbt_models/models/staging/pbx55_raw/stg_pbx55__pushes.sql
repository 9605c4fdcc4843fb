{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
    )
}}

with

{% if is_incremental() %}
    -- Files may be loaded late (another receiver, a retried load): re-read a window of raw rows
    -- before the newest staged one, then skip what is already staged.
    lookback as (

        select
            {{ dbt.dateadd('hour', -var('late_load_lookback_hours'), high_watermark('received_at')) }}
            as received_since

    ),

    recently_staged as (

        select
            push_id,
            central_id,
            call_id,
            body_sha256
        from {{ this }}
        where received_at >= (select received_since from lookback)

    ),
{% endif %}

source as (

    select * from {{ source('pbx55_raw', 'pushes') }}
    {% if is_incremental() %}
        where received_at >= (select received_since from lookback)
    {% endif %}

),

renamed as (

    select
        push_id,
        received_at,
        body_sha256,
        parse_mode,
        parse_errors,
        {{ raw_column_or_null('nul_replaced_fields', dbt.type_string()) }},
        {{ blank_to_null('central_id') }} as central_id,
        {{ blank_to_null('call_id') }} as call_id,
        {{ blank_to_null('branch_mask') }} as branch_mask,
        {{ blank_to_null('call_terminal') }} as call_terminal,
        {{ blank_to_null('call_type') }} as call_type_raw,
        {{ blank_to_null('call_status') }} as call_status_raw,
        {{ blank_to_null('call_disconnection') }} as call_disconnection_raw,
        {{ blank_to_null('call_ura') }} as call_ura_raw,
        {{ blank_to_null('call_queue') }} as queue,
        {{ blank_to_null('call_transfer_id') }} as transfer_call_id,
        upper({{ blank_to_null('call_tax_type') }}) as tax_type,
        {{ blank_to_null('call_url_audio') }} is not null as has_recording,
        call_time as talk_seconds,
        call_duration as duration_seconds,
        call_time_waiting as wait_seconds,
        call_tax as tax_per_minute,
        call_cost as cost,
        call_balance as balance_after,
        call_date_local as started_at,
        call_date_utc as started_at_utc,
        call_date_format,
        pii_key_id,
        caller_token,
        caller_ddd,
        caller_number_type,
        caller_masked,
        document_token,
        document_kind,
        branch_email_token
    from source

),

first_receipts as (

    -- Retries deliver identical bodies: keep the first receipt of each body within a call.
    select min(push_id) as push_id
    from renamed
    group by central_id, call_id, body_sha256

),

deduplicated as (

    select renamed.*
    from renamed
    inner join first_receipts
        on renamed.push_id = first_receipts.push_id
    {% if is_incremental() %}
        where
            not exists (
                select 1 from recently_staged as staged
                where staged.push_id = renamed.push_id
            )
            -- As first_receipts groups them, pushes without a call key are one group.
            and not exists (
                select 1 from recently_staged as staged
                where
                    staged.body_sha256 = renamed.body_sha256
                    and staged.central_id is not distinct from renamed.central_id
                    and staged.call_id is not distinct from renamed.call_id
            )
    {% endif %}

),

vocabulary as (

    select
        pushes.*,
        case
            when pushes.call_type_raw is not null
                then coalesce(call_types.call_kind, 'unknown')
        end as call_kind,
        case
            when pushes.call_status_raw is not null
                then coalesce(statuses.status, 'unknown')
        end as status,
        coalesce(statuses.is_final_only, false) as status_is_final_only,
        coalesce(statuses.is_answered, false) as status_is_answered,
        case
            when pushes.call_disconnection_raw is not null
                then coalesce(disconnections.disconnection, 'unknown')
        end as disconnection,
        case
            when pushes.call_disconnection_raw is not null
                then coalesce(disconnections.hung_up_by, 'unknown')
        end as hung_up_by,
        -- 'Opção - 1', ' opcao -1 ' and 'OPCAO - 1' are all option 'opcao-1'.
        replace({{ normalise_label('pushes.call_ura_raw') }}, ' ', '') as ura_option
    from deduplicated as pushes
    left join {{ ref('call_type_map') }} as call_types
        on {{ normalise_label('pushes.call_type_raw') }} = call_types.raw_value
    left join {{ ref('call_status_map') }} as statuses
        on {{ normalise_label('pushes.call_status_raw') }} = statuses.raw_value
    left join {{ ref('call_disconnection_map') }} as disconnections
        on {{ normalise_label('pushes.call_disconnection_raw') }} = disconnections.raw_value

),

staged as (

    select
        *,
        -- Telling pushes apart by content (field-notes.md): a final push has a recording, talk
        -- time, a disconnection origin or a status only a finished call has; its status may be
        -- empty. Start pushes carry zero durations, and an SMS is pushed once, when sent. Every
        -- term is true or false, never null, whatever the push lacks.
        (
            has_recording
            or coalesce(talk_seconds, 0) > 0
            or coalesce(duration_seconds, 0) > 0
            or disconnection is not null
            or status_is_final_only
            or coalesce(call_kind = 'sms', false)
        ) as is_final_push,
        -- Without both keys a push is no call: it is kept and counted, never reduced.
        central_id is null or call_id is null as dq_no_call_key,
        nul_replaced_fields is not null as dq_nul_replaced,
        {{ run_started_at_utc() }} as staged_at
    from vocabulary

),

placed as (

    select
        *,
        case
            when dq_no_call_key then 'unknown'
            when is_final_push then 'final'
            when branch_mask is not null then 'agent_ringing'
            when queue is not null or status = 'waiting' then 'queued'
            when call_kind is not null or status is not null or ura_option is not null then 'ivr'
            -- Nothing in the push places it: no call type, status, queue, extension, IVR
            -- option or final evidence.
            else 'unknown'
        end as lifecycle_stage
    from staged

)

select
    *,
    lifecycle_stage = 'unknown' as dq_unknown_stage
from placed
