-- Volume heatmap in the reporting time zone (var `timezone`): ISO weekday 1 = Monday.
with

hours as (

    select * from {{ ref('int_calls__hourly') }}

)

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
    sum(answered_within_sl) as answered_within_sl,
    sum(abandoned_within_sl) as abandoned_within_sl,
    {{ ratio('sum(answered_within_sl)', 'sum(answered) + sum(abandoned) - sum(short_abandons)') }}
        as service_level,
    {{ ratio('sum(answered_within_sl)', 'sum(answered)') }} as service_level_asterisk_sl,
    {{ ratio('sum(answered_within_sl) + sum(abandoned_within_sl)', 'sum(answered) + sum(abandoned)') }}
        as service_level_asterisk_sl2,
    {{ ratio('sum(answered_within_sl)', 'sum(answered) + sum(abandoned_after_sl)') }}
        as service_level_cisco_icm,
    {{ ratio('sum(answered_within_sl) + sum(abandoned_within_sl)', 'sum(offered)') }}
        as service_level_amazon,
    {{ ratio('sum(answered_wait_seconds)', 'sum(answered)', 2) }} as asa_seconds,
    {{ ratio('sum(abandoned)', 'sum(offered)') }} as abandon_rate,
    {{ ratio('sum(abandoned) - sum(short_abandons)', 'sum(offered) - sum(short_abandons)') }}
        as abandon_rate_ex_short
from hours
group by central_id, iso_weekday, hour_of_day
