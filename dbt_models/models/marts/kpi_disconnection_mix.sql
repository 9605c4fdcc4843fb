{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='reported_date',
        pre_hook="{{ delete_days_calls_left() }}",
        on_schema_change='append_new_columns',
    )
}}

-- Share of finished voice legs by mapped disconnection origin (raw values map via a seed).
with

calls as (

    select * from {{ ref('fct_calls') }}
    {% if is_incremental() %}
        -- Whole reporting days are recomputed: the days of the rows rebuilt since the last run.
        where reported_date in ({{ rebuilt_reported_dates(['fct_calls']) }})
    {% endif %}

),

legs as (

    select
        reported_date,
        central_id,
        coalesce(disconnection, 'none') as disconnection,
        coalesce(hung_up_by, 'unknown') as hung_up_by,
        count(*) as legs
    from calls
    where has_final_push and call_kind <> 'sms'
    group by
        reported_date,
        central_id,
        coalesce(disconnection, 'none'),
        coalesce(hung_up_by, 'unknown')

)

select
    *,
    {{ ratio('legs', 'sum(legs) over (partition by reported_date, central_id)') }} as share_of_legs,
    {{ run_started_at_utc() }} as built_at
from legs
