{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['central_id', 'report_day'],
        on_schema_change='append_new_columns',
    )
}}

-- Each day's current pull (docs/contracts.md, "Report API"): its latest pull whose load dlt
-- recorded as complete. A row is written only when a day's current pull changes, so its stamp
-- tells the next layers which days to read again.
with

complete_loads as (

    select load_id
    from ({{ raw_columns_or_null('dlt_loads', [
        ['load_id', dbt.type_string()],
        ['status', dbt.type_bigint()],
    ]) }}) as loads
    where status = 0

),

pulls as (

    {{ raw_columns_or_null('report_pulls', [
        ['central_id', dbt.type_string()],
        ['report_day', 'date'],
        ['pulled_at', 'timestamptz'],
        ['call_rows', dbt.type_bigint()],
        ['agent_rows', dbt.type_bigint()],
        ['api_host', dbt.type_string()],
        ['_dlt_load_id', dbt.type_string()],
    ]) }}

),

ranked as (

    select
        pulls.*,
        row_number() over (
            partition by pulls.central_id, pulls.report_day
            order by pulls.pulled_at desc, pulls._dlt_load_id desc
        ) as recency
    from pulls
    inner join complete_loads
        on pulls._dlt_load_id = complete_loads.load_id
    where pulls.central_id is not null and pulls.report_day is not null

),

current_pulls as (

    select * from ranked
    where recency = 1

)

select
    {{ surrogate_key(['central_id', 'report_day']) }} as pull_key,
    central_id,
    report_day,
    pulled_at,
    _dlt_load_id as pull_load_id,
    call_rows,
    agent_rows,
    api_host,
    {{ run_started_at_utc() }} as staged_at
from current_pulls
{% if is_incremental() %}
    where not exists (
        select 1 from {{ this }} as staged
        where
            staged.central_id = current_pulls.central_id
            and staged.report_day = current_pulls.report_day
            and staged.pull_load_id = current_pulls._dlt_load_id
            and staged.pulled_at = current_pulls.pulled_at
    )
{% endif %}
