{#
    Incremental: the journeys with a leg rebuilt in fct_calls are recomputed, together with the
    receptive journeys of the same callers and documents that started up to `repeat_window_long_h`
    before them, whose repeat flags a new journey can change. A journey whose root became a
    transfer leg of an older journey is deleted by the post-hook; a journey whose root only the
    report knew, which a new pull no longer lists, by the pre-hook.
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['central_id', 'journey_id'],
        on_schema_change='append_new_columns',
        pre_hook="{{ delete_journeys_the_report_dropped() }}",
        post_hook=[
            "delete from {{ this }} where central_id || '/' || journey_id in (
                select central_id || '/' || call_id from {{ ref('fct_calls') }}
                where built_at = {{ run_started_at_utc() }} and journey_id <> call_id
            )",
        ],
    )
}}

-- depends_on: {{ ref('int_report_calls') }}

{%- set journey_columns = [
    'central_id', 'journey_id', 'legs', 'transfers', 'journey_kind', 'first_queue', 'ura_option',
    'started_at', 'started_at_utc', 'reported_at', 'caller_token', 'caller_ddd', 'caller_uf',
    'document_token', 'final_outcome', 'is_answered', 'answered_branch_mask',
    'answered_talk_seconds', 'total_wait_seconds', 'total_talk_seconds', 'total_cost',
    'has_unfinished_leg',
] %}

with

{% if is_incremental() %}
    rebuilt_journeys as (

        select distinct
            central_id,
            journey_id
        from {{ ref('fct_calls') }}
        where built_at > {{ high_watermark('built_at') }}

    ),
{% endif %}

legs_in_scope as (

    select calls.*
    from {{ ref('fct_calls') }} as calls
    {% if is_incremental() %}
        inner join rebuilt_journeys
            on
                calls.central_id = rebuilt_journeys.central_id
                and calls.journey_id = rebuilt_journeys.journey_id
    {% endif %}

),

legs as (

    select
        *,
        coalesce(started_at_utc, first_received_at) as leg_started_at,
        row_number() over (
            partition by central_id, journey_id
            order by coalesce(started_at_utc, first_received_at), call_id
        ) as leg_number,
        row_number() over (
            partition by central_id, journey_id
            order by coalesce(started_at_utc, first_received_at) desc, call_id desc
        ) as leg_number_from_last,
        row_number() over (
            partition by central_id, journey_id
            order by
                case when is_answered then 0 else 1 end,
                coalesce(started_at_utc, first_received_at) desc,
                call_id desc
        ) as answered_preference
    from legs_in_scope

),

journeys as (

    select
        central_id,
        journey_id,
        count(*) as legs,
        count(*) - 1 as transfers,
        -- QueueMetrics multi-stint rules (kpis.md): category from the first leg, outcome from the
        -- last leg, talk and agent from the last answered leg, waits summed.
        max(case when leg_number = 1 then call_kind end) as journey_kind,
        max(case when leg_number = 1 then queue end) as first_queue,
        max(case when leg_number = 1 then ura_option end) as ura_option,
        max(case when leg_number = 1 then started_at end) as started_at,
        min(leg_started_at) as started_at_utc,
        max(case when leg_number = 1 then reported_at end) as reported_at,
        max(case when leg_number = 1 then caller_token end) as caller_token,
        max(case when leg_number = 1 then caller_ddd end) as caller_ddd,
        max(case when leg_number = 1 then caller_uf end) as caller_uf,
        {{ first_non_null_by('document_token', 'leg_number') }} as document_token,
        max(case when leg_number_from_last = 1 then outcome end) as final_outcome,
        bool_or(leg_number_from_last = 1 and is_answered) as is_answered,
        max(case when answered_preference = 1 and is_answered then branch_mask end)
            as answered_branch_mask,
        max(case when answered_preference = 1 and is_answered then talk_seconds end)
            as answered_talk_seconds,
        -- A missing wait or talk counts as 0, and a leg without a final state adds its wait so
        -- far (has_unfinished_leg says so). Its talk is unknown, so the journey's is; so is the
        -- cost of a journey with a leg of unknown cost (no final state, or the report's).
        sum(coalesce(wait_seconds, 0)) as total_wait_seconds,
        case when bool_or(is_wait_partial) then null else sum(coalesce(talk_seconds, 0)) end
            as total_talk_seconds,
        case when count(cost) = count(*) then sum(cost) end as total_cost,
        bool_or(outcome in ('in_progress', 'incomplete')) as has_unfinished_leg,
        sum(case when final_state_source = 'report' then 1 else 0 end) as legs_from_report
    from legs
    group by central_id, journey_id

),

{% if is_incremental() %}
    repeat_window as (

        select
            {{ dbt.dateadd('hour', -var('repeat_window_long_h'), 'min(started_at_utc)') }}
            as started_since
        from journeys

    ),
{% endif %}

candidate_journeys as (

    select * from journeys
    {% if is_incremental() %}
        union all
        select
            {{ journey_columns | join(', ') }},
            {{ column_or_null(this, 'legs_from_report', dbt.type_bigint()) }}
        from {{ this }} as existing
        where
            existing.journey_kind = 'inbound'
            and existing.started_at_utc >= (select started_since from repeat_window)
            and (
                existing.caller_token in (select caller_token from journeys)
                or existing.document_token in (select document_token from journeys)
            )
            and not exists (
                select 1 from rebuilt_journeys
                where
                    rebuilt_journeys.central_id = existing.central_id
                    and rebuilt_journeys.journey_id = existing.journey_id
            )
    {% endif %}

),

receptive_journeys as (

    select
        central_id,
        journey_id,
        started_at_utc,
        caller_token,
        document_token,
        lead(started_at_utc) over (
            partition by central_id, caller_token order by started_at_utc, journey_id
        ) as next_by_caller_at,
        lead(started_at_utc) over (
            partition by central_id, document_token order by started_at_utc, journey_id
        ) as next_by_document_at
    from candidate_journeys
    where journey_kind = 'inbound'

),

repeats as (

    -- Repeat callers (QueueMetrics first-call-resolution rule): followed by another receptive
    -- journey of the same caller within the window. Null when the key is blank or anonymous, so
    -- such callers are never clustered.
    select
        central_id,
        journey_id,
        case
            when caller_token is not null
                then coalesce(
                    next_by_caller_at
                    <= {{ dbt.dateadd('hour', var('repeat_window_short_h'), 'started_at_utc') }},
                    false
                )
        end as is_repeated_by_caller_24h,
        case
            when caller_token is not null
                then coalesce(
                    next_by_caller_at
                    <= {{ dbt.dateadd('hour', var('repeat_window_long_h'), 'started_at_utc') }},
                    false
                )
        end as is_repeated_by_caller_168h,
        case
            when document_token is not null
                then coalesce(
                    next_by_document_at
                    <= {{ dbt.dateadd('hour', var('repeat_window_short_h'), 'started_at_utc') }},
                    false
                )
        end as is_repeated_by_document_24h,
        case
            when document_token is not null
                then coalesce(
                    next_by_document_at
                    <= {{ dbt.dateadd('hour', var('repeat_window_long_h'), 'started_at_utc') }},
                    false
                )
        end as is_repeated_by_document_168h
    from receptive_journeys

)

select
    {{ surrogate_key(['candidate_journeys.central_id', 'candidate_journeys.journey_id']) }} as journey_key,
    candidate_journeys.*,
    cast(candidate_journeys.reported_at as date) as reported_date,
    repeats.is_repeated_by_caller_24h,
    repeats.is_repeated_by_caller_168h,
    repeats.is_repeated_by_document_24h,
    repeats.is_repeated_by_document_168h,
    {{ run_started_at_utc() }} as built_at
from candidate_journeys
left join repeats
    on
        candidate_journeys.central_id = repeats.central_id
        and candidate_journeys.journey_id = repeats.journey_id
{% if not is_incremental() %}
    -- In day order, as fct_calls: the repeat window and the day marts read a few days of it.
    order by candidate_journeys.started_at_utc
{% endif %}
