{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='reported_date',
        pre_hook="{{ delete_days_calls_left() }}",
        on_schema_change='append_new_columns',
    )
}}

-- DDD is the area where the number was registered, not where the caller is (portability).
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
        coalesce(caller_ddd, 'unknown') as caller_ddd,
        coalesce(caller_uf, 'unknown') as caller_uf,
        coalesce(caller_region, 'unknown') as caller_region,
        {{ leg_kpi_columns() }},
        {{ run_started_at_utc() }} as built_at
    from calls
    group by
        reported_date,
        central_id,
        coalesce(caller_ddd, 'unknown'),
        coalesce(caller_uf, 'unknown'),
        coalesce(caller_region, 'unknown')

)

select * from final
