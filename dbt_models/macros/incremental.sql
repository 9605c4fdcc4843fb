{#
    dbt's incremental materialization, except for a day mart with no day to rebuild (its SQL says
    so: no_day_to_rebuild, macros/kpi_helpers.sql), which it leaves as it is. dbt would still
    create a temporary table of no rows, read the columns of both tables, delete and insert
    nothing and commit: eight statements and some 50 ms of dbt's own work for each of the twenty
    day marts on a run that rebuilt nothing. One override per adapter, since dbt-duckdb has its own
    materialization and Postgres uses dbt's default one.
#}
{% macro incremental_unless_no_day_to_rebuild(materialization) -%}
    {%- if is_incremental() and no_day_to_rebuild() in compiled_code -%}
        {%- call noop_statement('main', 'no day to rebuild') -%}{%- endcall -%}
        {{ return({'relations': [this.incorporate(type='table')]}) }}
    {%- endif -%}
    {{ return(materialization()) }}
{%- endmacro %}

{% materialization incremental, adapter='duckdb', supported_languages=['sql', 'python'] -%}
    {{ return(incremental_unless_no_day_to_rebuild(dbt.materialization_incremental_duckdb)) }}
{%- endmaterialization %}

{% materialization incremental, default -%}
    {{ return(incremental_unless_no_day_to_rebuild(dbt.materialization_incremental_default)) }}
{%- endmaterialization %}
