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
    -- Only calls with newly staged pushes are re-reduced, plus the calls in progress whose grace
    -- period has run out since: without a new push, that is all that can change about a call.
    new_pushes as (

        select
            central_id,
            call_id,
            min(received_at) as first_new_received_at
        from {{ ref('stg_pbx55__pushes') }}
        where
            staged_at > {{ high_watermark('last_staged_at') }}
            and central_id is not null
            and call_id is not null
        group by central_id, call_id

    ),

    touched_calls as (

        select
            new_pushes.central_id,
            new_pushes.call_id,
            coalesce(
                least(reduced.first_received_at, new_pushes.first_new_received_at),
                new_pushes.first_new_received_at
            ) as first_received_at
        from new_pushes
        left join {{ this }} as reduced
            on
                new_pushes.central_id = reduced.central_id
                and new_pushes.call_id = reduced.call_id

        union all

        select
            central_id,
            call_id,
            first_received_at
        from {{ this }}
        where
            outcome = 'in_progress'
            and last_received_at < {{ incomplete_since() }}

    ),
{% endif %}

pushes as (

    select stg.*
    from {{ ref('stg_pbx55__pushes') }} as stg
    {% if is_incremental() %}
        inner join (select distinct central_id, call_id from touched_calls) as touched
            on stg.central_id = touched.central_id and stg.call_id = touched.call_id
        -- Bounds the scan: every push of a touched call arrived after its first known push.
        where stg.received_at >= (select min(first_received_at) from touched_calls)
    {% else %}
        -- A push without a call key is no call (staging flags it: dq_no_call_key).
        where stg.central_id is not null and stg.call_id is not null
    {% endif %}

),

ranked as (

    -- The reducer order (architecture.md): final push first (by content), then later source
    -- time, then later receipt (push_id is time-ordered).
    select
        *,
        row_number() over (
            partition by central_id, call_id
            order by is_final_push desc, started_at_utc desc nulls last, push_id desc
        ) as reducer_rank
    from pushes

),

first_final_receipts as (

    select
        central_id,
        call_id,
        min(received_at) as final_received_at
    from pushes
    where is_final_push
    group by central_id, call_id

),

reduced as (

    select
        ranked.central_id,
        ranked.call_id,
        coalesce({{ first_non_null_by('ranked.call_kind', 'ranked.reducer_rank') }}, 'unknown')
            as call_kind,
        -- Only final pushes speak for the end state: an empty status on the final push is not
        -- filled with a start push's `call_waiting`.
        {{ first_non_null_by('case when ranked.is_final_push then ranked.status end', 'ranked.reducer_rank') }}
            as final_status,
        bool_or(ranked.status_is_answered) as passed_through_attended,
        {{ first_non_null_by('ranked.started_at', 'ranked.reducer_rank') }} as started_at,
        {{ first_non_null_by('ranked.started_at_utc', 'ranked.reducer_rank') }} as started_at_utc,
        {{ first_non_null_by('ranked.queue', 'ranked.reducer_rank') }} as queue,
        {{ first_non_null_by('ranked.branch_mask', 'ranked.reducer_rank') }} as branch_mask,
        {{ first_non_null_by('ranked.branch_email_token', 'ranked.reducer_rank') }} as branch_email_token,
        {{ first_non_null_by('ranked.call_terminal', 'ranked.reducer_rank') }} as call_terminal,
        {{ first_non_null_by('ranked.transfer_call_id', 'ranked.reducer_rank') }} as transfer_call_id,
        {{ first_non_null_by('ranked.ura_option', 'ranked.reducer_rank') }} as ura_option,
        {{ first_non_null_by('ranked.disconnection', 'ranked.reducer_rank') }} as disconnection,
        {{ first_non_null_by('ranked.hung_up_by', 'ranked.reducer_rank') }} as hung_up_by,
        {{ first_non_null_by('ranked.wait_seconds', 'ranked.reducer_rank') }} as wait_seconds,
        -- Start pushes send talk, duration and cost as 0 before they are known: without a final
        -- push they stay unknown (null), not zero. The wait so far is kept (fct_calls flags it).
        case
            when bool_or(ranked.is_final_push)
                then {{ first_non_null_by('ranked.talk_seconds', 'ranked.reducer_rank') }}
        end as talk_seconds,
        case
            when bool_or(ranked.is_final_push)
                then {{ first_non_null_by('ranked.duration_seconds', 'ranked.reducer_rank') }}
        end as duration_seconds,
        {{ first_non_null_by('ranked.tax_type', 'ranked.reducer_rank') }} as tax_type,
        {{ first_non_null_by('ranked.tax_per_minute', 'ranked.reducer_rank') }} as tax_per_minute,
        case
            when bool_or(ranked.is_final_push)
                then {{ first_non_null_by('ranked.cost', 'ranked.reducer_rank') }}
        end as cost,
        {{ first_non_null_by('ranked.balance_after', 'ranked.reducer_rank') }} as balance_after,
        bool_or(ranked.has_recording) as has_recording,
        {{ first_non_null_by('ranked.caller_token', 'ranked.reducer_rank') }} as caller_token,
        {{ first_non_null_by('ranked.caller_ddd', 'ranked.reducer_rank') }} as caller_ddd,
        {{ first_non_null_by('ranked.caller_masked', 'ranked.reducer_rank') }} as caller_masked,
        {{ first_non_null_by('ranked.caller_number_type', 'ranked.reducer_rank') }} as caller_number_type,
        {{ first_non_null_by('ranked.document_token', 'ranked.reducer_rank') }} as document_token,
        {{ first_non_null_by('ranked.document_kind', 'ranked.reducer_rank') }} as document_kind,
        count(*) as push_count,
        bool_or(ranked.is_final_push) as has_final_push,
        -- Start-type pushes received after the first final push: retries that must not undo it.
        sum(
            case
                when not ranked.is_final_push and ranked.received_at > finals.final_received_at
                    then 1
                else 0
            end
        ) as late_push_count,
        bool_or(ranked.parse_errors is not null) as has_parse_errors,
        bool_or(ranked.dq_nul_replaced) as has_nul_replaced,
        min(ranked.received_at) as first_received_at,
        max(ranked.received_at) as last_received_at,
        max(ranked.staged_at) as last_staged_at
    from ranked
    left join first_final_receipts as finals
        on ranked.central_id = finals.central_id and ranked.call_id = finals.call_id
    group by ranked.central_id, ranked.call_id

)

select
    {{ surrogate_key(['central_id', 'call_id']) }} as call_key,
    *,
    case
        when not has_final_push
            then
                case
                    when last_received_at < {{ incomplete_since() }} then 'incomplete'
                    else 'in_progress'
                end
        when call_kind = 'sms' then 'unknown'
        {{ finished_leg_outcome_branches(
            'coalesce(talk_seconds, 0) > 0 or passed_through_attended', 'call_kind', 'final_status', 'queue'
        ) }}
    end as outcome,
    {{ run_started_at_utc() }} as reduced_at
from reduced
