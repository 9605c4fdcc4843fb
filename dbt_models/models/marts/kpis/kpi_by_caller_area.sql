-- DDD is the area where the number was registered, not where the caller is (portability).
with

calls as (

    select
        *,
        coalesce(caller_ddd, 'unknown') as caller_ddd_or_unknown,
        coalesce(caller_uf, 'unknown') as caller_uf_or_unknown,
        coalesce(caller_region, 'unknown') as caller_region_or_unknown
    from ({{ rows_on_rebuilt_days('fct_calls') }}) as rebuilt

)

select
    {{ surrogate_key(['reported_date', 'central_id', 'caller_ddd_or_unknown']) }} as kpi_key,
    reported_date,
    central_id,
    caller_ddd_or_unknown as caller_ddd,
    caller_uf_or_unknown as caller_uf,
    caller_region_or_unknown as caller_region,
    {{ leg_kpi_columns() }},
    {{ run_started_at_utc() }} as built_at
from calls
group by
    reported_date,
    central_id,
    caller_ddd_or_unknown,
    caller_uf_or_unknown,
    caller_region_or_unknown
