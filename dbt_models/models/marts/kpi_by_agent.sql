-- Agents are extensions (`branch_mask`); the agent's e-mail never reaches the marts.
select
    reported_date,
    central_id,
    branch_mask,
    {{ leg_kpi_columns() }}
from {{ ref('fct_calls') }}
where branch_mask is not null
group by reported_date, central_id, branch_mask
