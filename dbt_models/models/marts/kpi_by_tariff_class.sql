{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='reported_date',
        pre_hook="{{ delete_days_calls_left() }}",
        on_schema_change='append_new_columns',
    )
}}

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
        tariff_class,
        count(*) as legs,
        sum(case when is_answered then 1 else 0 end) as answered_legs,
        sum(coalesce(talk_seconds, 0)) as talk_seconds,
        sum(billed_seconds) as billed_seconds,
        {{ rounded('sum(billed_minutes)', 1) }} as billed_minutes,
        {{ rounded('sum(coalesce(cost, 0))', 4) }} as cost_total,
        {{ ratio('sum(coalesce(cost, 0))', 'count(*)') }} as cost_per_call,
        {{ ratio('sum(coalesce(cost, 0))', 'sum(case when is_answered then 1 else 0 end)') }}
            as cost_per_answered_call,
        {{ ratio('sum(coalesce(cost, 0))', 'sum(billed_minutes)') }} as cost_per_billed_minute,
        sum(case when dq_cost_mismatch then 1 else 0 end) as cost_mismatch_legs,
        {{ run_started_at_utc() }} as built_at
    from calls
    group by reported_date, central_id, tariff_class

)

select * from final
