-- Data quality (kpis.md, "Reconciliation"): a finished day, still pulled again, on which the
-- pushes had fewer than `reconciliation_min_coverage` of the calls the report lists: pushes were
-- lost (the receiver down, the vendor gave up retrying). The KPIs include those calls from the
-- report; the warning says the real-time figures of that day missed them.
{{ config(severity='warn') }}

with

days as (

    select
        reported_date,
        central_id,
        sum(calls_in_both) as calls_in_both,
        sum(calls_in_report) as calls_in_report
    from {{ ref('kpi_reconciliation_daily') }}
    group by reported_date, central_id

),

today as (

    select cast({{ to_reporting_time(as_of_utc()) }} as date) as local_day

)

select
    days.reported_date,
    days.central_id,
    days.calls_in_both,
    days.calls_in_report
from days
cross join today
where
    days.reported_date < today.local_day
    and days.reported_date
    >= {{ dbt.dateadd('day', -(var('report_api_lookback_days') | int), 'today.local_day') }}
    and days.calls_in_both < {{ var('reconciliation_min_coverage') }} * days.calls_in_report
