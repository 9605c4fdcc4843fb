{#
    A column of the raw table that a newer loader writes (`nul_replaced_fields`), or null where
    the raw table predates it: dlt adds a column with the first rows that carry it, so a build
    right after an upgrade, before any new push is loaded, would otherwise fail. Unit tests
    give the column themselves.
#}
{% macro raw_column_or_null(column, data_type) -%}
    {%- set present = true -%}
    {%- if execute and model.resource_type != 'unit_test' -%}
        {%- set columns = adapter.get_columns_in_relation(source('pbx55_raw', 'pushes')) -%}
        {%- set present = column in columns | map(attribute='name') | map('lower') | list -%}
    {%- endif -%}
    {%- if present -%}
        {{ column }}
    {%- else -%}
        cast(null as {{ data_type }}) as {{ column }}
    {%- endif -%}
{%- endmacro %}
