{#
    The rows a generic data test reads (dbt's `where` config, overriding dbt's macro of the same
    name). Besides plain SQL, `where` may be `latest_build:<column>`: only the rows the latest build
    of the model wrote, those whose run-time stamp <column> (staged_at, reduced_at, built_at) is
    the newest in the table (newest_stamp: a constant, so that DuckDB reads only the row groups
    holding it). An incremental run then tests the rows it touched instead of scanning the whole
    history on every run; a full refresh writes every row with the same stamp, so it
    still tests the whole table, and var `data_tests_on_all_rows` (CI) tests every row on any run.
    The placeholder is resolved here, at run time, because the relation is only known here.
#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') or '' -%}
    {%- if where.startswith('latest_build:') -%}
        {%- set column = where.split(':', 1)[1] | trim -%}
        {%- if var('data_tests_on_all_rows') -%}
            {%- set where = '' -%}
        {%- else -%}
            {%- set where = column ~ ' = ' ~ newest_stamp(relation, column) -%}
        {%- endif -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

