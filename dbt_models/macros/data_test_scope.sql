{#
    The rows a generic data test reads (dbt's `where` config, overriding dbt's macro of the same
    name). Besides plain SQL, `where` may be `latest_build:<column>`: only the rows this build of
    the model wrote, those whose run-time stamp <column> (staged_at, reduced_at, built_at, or
    pull_staged_at for the pulls staged) is this invocation's (run_started_at_utc: a constant, so
    DuckDB reads only the row groups holding it, and no query is needed to find it). An
    incremental run then tests the rows it touched instead of scanning the whole history, and a
    run that wrote nothing reads nothing (its rows were tested by the build that wrote them); a
    full refresh writes every row with the same stamp, so it still tests the whole table, and var
    `data_tests_on_all_rows` (CI) tests every row on any run. The placeholder is resolved here, at
    run time, because the relation is only known here.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') or '' -%}
    {%- if where.startswith('latest_build:') -%}
        {%- set column = where.split(':', 1)[1] | trim -%}
        {%- if var('data_tests_on_all_rows') -%}
            {%- set where = '' -%}
        {%- else -%}
            {%- set where = column ~ ' = ' ~ run_started_at_utc() -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

