{#
    A single-column key for a row whose grain is several columns: md5 of the columns cast to
    text, in order, joined by '-', with null as a placeholder (as dbt_utils.generate_surrogate_key,
    which cannot be installed here). Built on dbt.hash and dbt.concat, so DuckDB and Postgres give
    the same key. Tools that look for a primary key (dbt_project_evaluator) find it tested with
    invariant_key.
#}
{% macro surrogate_key(columns) -%}
    {%- set parts = [] -%}
    {%- for column in columns -%}
        {%- do parts.append(
            "coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '_pbx55_null_')"
        ) -%}
        {%- if not loop.last -%}
            {%- do parts.append("'-'") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(parts)) }}
{%- endmacro %}
