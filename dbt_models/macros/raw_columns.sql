{#
    A column of the raw table that a newer loader writes (`nul_replaced_fields`), or null where
    the raw table predates it: dlt adds a column with the first rows that carry it, so a build
    right after an upgrade, before any new push is loaded, would otherwise fail. Unit tests
    give the column themselves.
#}
{% macro raw_column_or_null(column, data_type) -%}
    {{ column_or_null(source('pbx55_raw', 'pushes'), column, data_type) }}
{%- endmacro %}

{#
    `column` of `relation`, or null where the relation lacks it: a raw table from before a
    loader wrote the column, or an incremental model's own table from before the column was
    added (on_schema_change appends it only after the model's query ran).
#}
{% macro column_or_null(relation, column, data_type) -%}
    {%- set present = true -%}
    {%- if execute and model.resource_type != 'unit_test' -%}
        {%- set columns = adapter.get_columns_in_relation(relation) -%}
        {%- set present = column in columns | map(attribute='name') | map('lower') | list -%}
    {%- endif -%}
    {%- if present -%}
        {{ column }}
    {%- else -%}
        cast(null as {{ data_type }}) as {{ column }}
    {%- endif -%}
{%- endmacro %}

{#
    The columns `columns` ([name, type] pairs) of the raw table `table` (a source of pbx55_raw),
    each cast to its type, with null where the table lacks the column, and no rows at all while
    the table does not exist. The report API's tables exist only once a user configures it, and
    dlt adds a column with the first answer that carries it, so a model reading them must build
    before either. Resolved at run time: at parse time (no `execute`) the table is taken as is.
#}
{% macro raw_columns_or_null(table, columns) -%}
    {%- set relation = source('pbx55_raw', table) -%}
    {%- set present = none -%}
    {%- if execute -%}
        {%- set existing = adapter.get_relation(
            database=relation.database, schema=relation.schema, identifier=relation.identifier
        ) -%}
        {%- set present = [] -%}
        {%- if existing is not none -%}
            {%- set present = adapter.get_columns_in_relation(existing)
                | map(attribute='name') | map('lower') | list -%}
        {%- endif -%}
    {%- endif %}
    select
    {%- for name, data_type in columns %}
        {%- if present is none or name in present %}
        cast({{ name }} as {{ data_type }}) as {{ name }}
        {%- else %}
        cast(null as {{ data_type }}) as {{ name }}
        {%- endif %}
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
    {%- if present is none or present %}
    from {{ relation }}
    {%- else %}
    where false
    {%- endif %}
{%- endmacro %}

{#
    The rows of the report table `table` (report_calls, report_day_totals, report_agent_times)
    that belong to each day's current pull (stg_pbx55__report_pulls), with that pull's load and
    stamp, and the fields `fields` as text as sent. `per_row`: the table numbers its rows
    (`row_number`, the position in the answer), as report_02 and report_03 do.
#}
{% macro current_pull_rows(table, fields, per_row=true) -%}
    {%- set columns = [
        ['central_id', dbt.type_string()],
        ['report_day', 'date'],
        ['pulled_at', 'timestamptz'],
        ['_dlt_load_id', dbt.type_string()],
    ] -%}
    {%- if per_row -%}
        {%- do columns.append(['row_number', dbt.type_bigint()]) -%}
    {%- endif -%}
    {%- for field in fields -%}
        {%- do columns.append([field, dbt.type_string()]) -%}
    {%- endfor -%}
    select
        pulls.central_id,
        pulls.report_day,
        pulls.pulled_at,
        pulls.pull_load_id,
        pulls.staged_at as pull_staged_at,
        {%- if per_row %}
            report_rows.row_number as row_in_answer,
        {%- endif %}
        {%- for field in fields %}
            report_rows.{{ field }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from ({{ raw_columns_or_null(table, columns) }}) as report_rows
    inner join {{ ref('stg_pbx55__report_pulls') }} as pulls
        on
            report_rows.central_id = pulls.central_id
            and report_rows.report_day = pulls.report_day
            and report_rows._dlt_load_id = pulls.pull_load_id
            and report_rows.pulled_at = pulls.pulled_at
{%- endmacro %}
