{%- set counts = [
    'legs', 'inbound_calls', 'offered', 'answered', 'abandoned', 'short_abandons', 'abandoned_ivr',
    'retained_ivr', 'answered_within_sl', 'abandoned_within_sl', 'abandoned_after_sl',
    'answered_wait_seconds', 'unmeasured_legs', 'calls_from_report',
] %}

-- Additive counts per local hour, so that the heatmap can sum any number of days cheaply.
with

calls as (

    select
        *,
        cast(extract(isodow from reported_at) as {{ dbt.type_int() }}) as iso_weekday,
        cast(extract(hour from reported_at) as {{ dbt.type_int() }}) as hour_of_day
    from ({{ rows_on_rebuilt_days('fct_calls') }}) as rebuilt

)

select
    {{ surrogate_key(['reported_date', 'central_id', 'hour_of_day']) }} as kpi_key,
    reported_date,
    central_id,
    iso_weekday,
    hour_of_day,
    {{ kpi_count_columns(counts) }},
    {{ run_started_at_utc() }} as built_at
from calls
group by reported_date, central_id, iso_weekday, hour_of_day
