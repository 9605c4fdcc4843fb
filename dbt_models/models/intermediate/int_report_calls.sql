{#
    One row per call (central_id, call_id) the report has listed. Incremental: the calls of the
    days pulled again since the last run are recomputed from every current row that names them
    (a call is listed on its start day, so normally one); a call such a pull no longer lists
    keeps its row, marked not listed, so that fct_calls and the marts drop or rebuild it.
#}
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['central_id', 'call_id'],
        on_schema_change='append_new_columns',
    )
}}

-- depends_on: {{ ref('stg_pbx55__report_pulls') }}

{%- set report_columns = [
    'report_day', 'row_in_answer', 'pulled_at', 'call_id_origin', 'type_call_raw', 'status',
    'call_kind', 'outcome', 'queue', 'queue_id', 'branch_mask', 'did', 'caller_ddd', 'started_at',
    'started_at_utc', 'ivr_seconds', 'wait_seconds', 'talk_seconds', 'duration_seconds',
    'disconnection', 'hung_up_by', 'has_recording', 'voice_bot_queue', 'voice_bot_outcome',
    'voice_bot_wait_seconds', 'voice_bot_talk_seconds', 'has_parse_errors', 'reported_date',
] %}

with

{% if is_incremental() %}
    pulled_again as (

        select
            central_id,
            report_day
        from {{ ref('stg_pbx55__report_pulls') }}
        where staged_at > {{ high_watermark('built_at') }}

    ),

    touched_calls as (

        select
            report_rows.central_id,
            report_rows.call_id
        from {{ ref('stg_pbx55__report_calls') }} as report_rows
        inner join pulled_again
            on
                report_rows.central_id = pulled_again.central_id
                and report_rows.report_day = pulled_again.report_day
        where report_rows.call_id is not null

        union

        select
            listed_before.central_id,
            listed_before.call_id
        from {{ this }} as listed_before
        inner join pulled_again
            on
                listed_before.central_id = pulled_again.central_id
                and listed_before.report_day = pulled_again.report_day
        where listed_before.is_listed or listed_before.voice_bot_entries > 0

    ),
{% endif %}

current_rows as (

    select report_rows.*
    from {{ ref('stg_pbx55__report_calls') }} as report_rows
    {% if is_incremental() %}
        inner join touched_calls
            on
                report_rows.central_id = touched_calls.central_id
                and report_rows.call_id = touched_calls.call_id
    {% endif %}
    where report_rows.call_id is not null

),

ranked as (

    -- A call listed twice (or on two days) takes its row from the newest pull, then the first
    -- row of the answer; the voice bot's entries are ranked apart.
    select
        *,
        row_number() over (
            partition by central_id, call_id, is_voice_bot_entry
            order by pulled_at desc, report_day desc, row_in_answer asc
        ) as entry_rank
    from current_rows

),

row_counts as (

    select
        central_id,
        call_id,
        sum(case when is_voice_bot_entry then 0 else 1 end) as listed_rows,
        sum(case when is_voice_bot_entry then 1 else 0 end) as voice_bot_entries,
        bool_or(dq_parse_errors) as has_parse_errors
    from current_rows
    group by central_id, call_id

),

first_own_rows as (

    select * from ranked
    where not is_voice_bot_entry and entry_rank = 1

),

first_voice_bot_rows as (

    select * from ranked
    where is_voice_bot_entry and entry_rank = 1

),

listed as (

    select
        row_counts.central_id,
        row_counts.call_id,
        first_own_rows.call_id is not null as is_listed,
        row_counts.listed_rows,
        row_counts.voice_bot_entries,
        coalesce(first_own_rows.report_day, first_voice_bot_rows.report_day) as report_day,
        coalesce(first_own_rows.row_in_answer, first_voice_bot_rows.row_in_answer) as row_in_answer,
        coalesce(first_own_rows.pulled_at, first_voice_bot_rows.pulled_at) as pulled_at,
        first_own_rows.call_id_origin,
        first_own_rows.type_call_raw,
        first_own_rows.status,
        first_own_rows.call_kind,
        first_own_rows.outcome,
        first_own_rows.queue,
        first_own_rows.queue_id,
        first_own_rows.branch_mask,
        first_own_rows.did,
        first_own_rows.caller_ddd,
        -- A call listed only by the voice bot is placed by the bot's entry.
        case
            when first_own_rows.call_id is not null then first_own_rows.started_at
            else first_voice_bot_rows.started_at
        end as started_at,
        case
            when first_own_rows.call_id is not null then first_own_rows.started_at_utc
            else first_voice_bot_rows.started_at_utc
        end as started_at_utc,
        first_own_rows.ivr_seconds,
        first_own_rows.wait_seconds,
        first_own_rows.talk_seconds,
        first_own_rows.duration_seconds,
        first_own_rows.disconnection,
        first_own_rows.hung_up_by,
        coalesce(first_own_rows.has_recording, false) as has_recording,
        first_voice_bot_rows.queue as voice_bot_queue,
        first_voice_bot_rows.outcome as voice_bot_outcome,
        first_voice_bot_rows.wait_seconds as voice_bot_wait_seconds,
        first_voice_bot_rows.talk_seconds as voice_bot_talk_seconds,
        row_counts.has_parse_errors
    from row_counts
    left join first_own_rows
        on row_counts.central_id = first_own_rows.central_id and row_counts.call_id = first_own_rows.call_id
    left join first_voice_bot_rows
        on
            row_counts.central_id = first_voice_bot_rows.central_id
            and row_counts.call_id = first_voice_bot_rows.call_id

),

placed as (

    select
        *,
        -- The day fct_calls counts a call the report alone knows on (its reported_date).
        cast(coalesce(started_at, cast(report_day as timestamp)) as date) as reported_date
    from listed

),

calls as (

    select
        central_id,
        call_id,
        is_listed,
        listed_rows,
        voice_bot_entries,
        {{ report_columns | join(',\n        ') }}
    from placed

    {% if is_incremental() %}
        union all

        -- Calls a new pull of their day no longer lists: what the report said last, not listed.
        select
            listed_before.central_id,
            listed_before.call_id,
            false as is_listed,
            0 as listed_rows,
            0 as voice_bot_entries,
            {%- for column in report_columns %}
                listed_before.{{ column }}{% if not loop.last %},{% endif %}
            {%- endfor %}
        from {{ this }} as listed_before
        inner join touched_calls
            on
                listed_before.central_id = touched_calls.central_id
                and listed_before.call_id = touched_calls.call_id
        where not exists (
            select 1 from placed
            where placed.central_id = listed_before.central_id and placed.call_id = listed_before.call_id
        )
    {% endif %}

)

select
    {{ surrogate_key(['central_id', 'call_id']) }} as call_key,
    *,
    {{ run_started_at_utc() }} as built_at
from calls
