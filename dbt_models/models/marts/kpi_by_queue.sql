select
    reported_date,
    central_id,
    queue,
    {{ leg_kpi_columns() }}
from {{ ref('fct_calls') }}
where queue is not null
group by reported_date, central_id, queue
