{{ config(materialized='table') }}

-- Volume heatmap in the reporting time zone (var `timezone`): ISO weekday 1 = Monday. The
-- counts of every day are summed first, then the ratios of kpi_daily applied to the sums.
with

hours as (

    select * from {{ ref('kpi_by_hour') }}

),

final as (

    select
        central_id,
        iso_weekday,
        hour_of_day,
        count(distinct reported_date) as days_observed,
        sum(legs) as legs,
        sum(inbound_calls) as inbound_calls,
        sum(offered) as offered,
        sum(answered) as answered,
        sum(abandoned) as abandoned,
        sum(short_abandons) as short_abandons,
        sum(abandoned_ivr) as abandoned_ivr,
        sum(retained_ivr) as retained_ivr,
        sum(answered_within_sl) as answered_within_sl,
        sum(abandoned_within_sl) as abandoned_within_sl,
        sum(unmeasured_legs) as unmeasured_legs,
        sum(calls_from_report) as calls_from_report,
        {{ kpi_ratios(
            summed_counts([
                'offered', 'answered', 'abandoned', 'short_abandons', 'answered_within_sl',
                'abandoned_within_sl', 'abandoned_after_sl', 'answered_wait_seconds',
            ]),
            [
                'service_level', 'service_level_asterisk_sl', 'service_level_asterisk_sl2',
                'service_level_cisco_icm', 'service_level_amazon', 'asa_seconds', 'abandon_rate',
                'abandon_rate_ex_short',
            ],
        ) }}
    from hours
    group by central_id, iso_weekday, hour_of_day

)

select
    {{ surrogate_key(['central_id', 'iso_weekday', 'hour_of_day']) }} as kpi_key,
    *
from final
