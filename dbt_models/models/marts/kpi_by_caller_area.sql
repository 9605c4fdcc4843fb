-- DDD is the area where the number was registered, not where the caller is (portability).
select
    reported_date,
    central_id,
    coalesce(caller_ddd, 'unknown') as caller_ddd,
    coalesce(caller_uf, 'unknown') as caller_uf,
    coalesce(caller_region, 'unknown') as caller_region,
    {{ leg_kpi_columns() }}
from {{ ref('fct_calls') }}
group by
    reported_date,
    central_id,
    coalesce(caller_ddd, 'unknown'),
    coalesce(caller_uf, 'unknown'),
    coalesce(caller_region, 'unknown')
