-- Data quality (kpis.md, "Reconciliation"): a central the report API is configured for
-- (PBX55_REPORT_API_KEYS) whose newest complete pull is older than `report_api_silence_hours`, or
-- which was never pulled: the API has not answered, so lost pushes go uncounted.
{{ config(severity='warn') }}

{%- set centrals = var('report_api_centrals').split(',') | map('trim') | reject('equalto', '') | list %}

with

newest_pulls as (

    select
        central_id,
        max(pulled_at) as newest_pulled_at
    from {{ ref('stg_pbx55__report_pulls') }}
    group by central_id

),

configured as (

    {%- for central in centrals %}
        select '{{ central }}' as central_id
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- else %}
        select cast(null as {{ dbt.type_string() }}) as central_id
        where false
    {%- endfor %}

)

select
    configured.central_id,
    newest_pulls.newest_pulled_at
from configured
left join newest_pulls
    on configured.central_id = newest_pulls.central_id
where
    newest_pulls.newest_pulled_at is null
    or newest_pulls.newest_pulled_at
    < {{ dbt.dateadd('hour', -var('report_api_silence_hours'), as_of_utc()) }}
