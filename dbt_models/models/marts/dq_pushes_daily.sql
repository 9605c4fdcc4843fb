{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='received_date',
        on_schema_change='append_new_columns',
    )
}}

-- Pushes that reached no call, or reached it damaged: what the call marts cannot show.
with

{% if is_incremental() %}
    new_pushes as (

        select received_at
        from {{ ref('stg_pbx55__pushes') }}
        where staged_at > {{ high_watermark('built_at') }}

    ),

    -- Whole receive days are recomputed: the days of the pushes staged since the last run.
    rebuilt_days as (

        select distinct cast({{ to_reporting_time('received_at') }} as date) as received_date
        from new_pushes

    ),
{% endif %}

pushes as (

    select
        cast({{ to_reporting_time('received_at') }} as date) as received_date,
        coalesce(central_id, 'unknown') as central_id,
        dq_no_call_key,
        dq_unknown_stage,
        dq_nul_replaced,
        parse_errors is not null as has_parse_errors
    from {{ ref('stg_pbx55__pushes') }}
    {% if is_incremental() %}
        -- A receive day starts less than a day before the oldest new push received on it.
        where
            received_at
            >= (select {{ dbt.dateadd('day', -1, 'min(received_at)') }} from new_pushes)
    {% endif %}

),

final as (

    select
        {{ surrogate_key(['received_date', 'central_id']) }} as dq_key,
        received_date,
        central_id,
        count(*) as pushes,
        sum(case when dq_no_call_key then 1 else 0 end) as no_call_key_pushes,
        sum(case when dq_unknown_stage then 1 else 0 end) as unknown_stage_pushes,
        sum(case when dq_nul_replaced then 1 else 0 end) as nul_replaced_pushes,
        sum(case when has_parse_errors then 1 else 0 end) as parse_error_pushes,
        {{ run_started_at_utc() }} as built_at
    from pushes
    {% if is_incremental() %}
        where received_date in (select received_date from rebuilt_days)
    {% endif %}
    group by received_date, central_id

)

select * from final
