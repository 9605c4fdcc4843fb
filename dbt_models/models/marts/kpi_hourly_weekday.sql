-- Volume heatmap in the reporting time zone (var `timezone`): ISO weekday 1 = Monday.
select
    central_id,
    cast(extract(isodow from reported_at) as {{ dbt.type_int() }}) as iso_weekday,
    cast(extract(hour from reported_at) as {{ dbt.type_int() }}) as hour_of_day,
    count(distinct reported_date) as days_observed,
    {{ leg_kpi_columns() }}
from {{ ref('fct_calls') }}
group by
    central_id,
    cast(extract(isodow from reported_at) as {{ dbt.type_int() }}),
    cast(extract(hour from reported_at) as {{ dbt.type_int() }})
