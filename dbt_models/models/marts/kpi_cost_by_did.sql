{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='reported_date',
        pre_hook="{{ delete_days_calls_left() }}",
        on_schema_change='append_new_columns',
    )
}}

-- Cost by DID (`call_terminal`, the company's trunk number, not the caller's).
with

calls as (

    select * from {{ ref('fct_calls') }}
    {% if is_incremental() %}
        -- Whole reporting days are recomputed: the days of the rows rebuilt since the last run.
        where reported_date in ({{ rebuilt_reported_dates(['fct_calls']) }})
    {% endif %}

),

final as (

    select
        reported_date,
        central_id,
        coalesce(did, 'unknown') as did,
        call_kind,
        count(*) as legs,
        {{ rounded('sum(billed_minutes)', 1) }} as billed_minutes,
        {{ rounded('sum(coalesce(cost, 0))', 4) }} as cost_total,
        {{ ratio('sum(coalesce(cost, 0))', 'count(*)') }} as cost_per_call,
        {{ ratio('sum(coalesce(cost, 0))', 'sum(billed_minutes)') }} as cost_per_billed_minute,
        {{ run_started_at_utc() }} as built_at
    from calls
    group by reported_date, central_id, coalesce(did, 'unknown'), call_kind

)

select * from final
