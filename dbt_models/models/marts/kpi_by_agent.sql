{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='reported_date',
        pre_hook="{{ delete_days_calls_left() }}",
        on_schema_change='append_new_columns',
    )
}}

-- Agents are extensions (`branch_mask`); the agent's e-mail never reaches the marts.
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
        branch_mask,
        {{ leg_kpi_columns() }},
        {{ run_started_at_utc() }} as built_at
    from calls
    where branch_mask is not null
    group by reported_date, central_id, branch_mask

)

select * from final
