-- Share of finished voice legs by mapped disconnection origin (raw values map via a seed): a
-- final push arrived, or the report gave the final state.
with

calls as (

    {{ rows_on_rebuilt_days('fct_calls') }}

),

legs as (

    select
        reported_date,
        central_id,
        coalesce(disconnection, 'none') as disconnection,
        coalesce(hung_up_by, 'unknown') as hung_up_by,
        count(*) as legs,
        {{ kpi_count_columns(['calls_from_report']) }}
    from calls
    where (has_final_push or final_state_source = 'report') and call_kind <> 'sms'
    group by
        reported_date,
        central_id,
        coalesce(disconnection, 'none'),
        coalesce(hung_up_by, 'unknown')

)

select
    {{ surrogate_key(['reported_date', 'central_id', 'disconnection', 'hung_up_by']) }} as kpi_key,
    *,
    {{ kpi_ratios(
        {'legs': 'legs', 'legs_in_group': 'sum(legs) over (partition by reported_date, central_id)'},
        ['share_of_legs']
    ) }},
    {{ run_started_at_utc() }} as built_at
from legs
