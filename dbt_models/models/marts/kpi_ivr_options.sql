{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='reported_date',
        pre_hook="{{ delete_days_calls_left() }}",
        on_schema_change='append_new_columns',
    )
}}

-- Receptive journeys by the IVR option of their first leg.
-- depends_on: {{ ref('fct_calls') }} (the days rebuilt calls moved from)
with

journeys_in_scope as (

    select * from {{ ref('fct_journeys') }}
    {% if is_incremental() %}
        -- Whole reporting days are recomputed: the days of the rows rebuilt since the last run.
        where reported_date in ({{ rebuilt_reported_dates(['fct_calls', 'fct_journeys']) }})
    {% endif %}

),

journeys as (

    select
        reported_date,
        central_id,
        coalesce(ura_option, 'none') as ura_option,
        count(*) as journeys,
        sum(case when is_answered then 1 else 0 end) as journeys_answered
    from journeys_in_scope
    where journey_kind = 'inbound'
    group by reported_date, central_id, coalesce(ura_option, 'none')

)

select
    *,
    {{ ratio('journeys', 'sum(journeys) over (partition by reported_date, central_id)') }} as share_of_journeys,
    {{ run_started_at_utc() }} as built_at
from journeys
