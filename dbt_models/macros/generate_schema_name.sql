{#
    Schemas are the configured names (`staging`, `intermediate`, `marts`, `reference`) without dbt's
    default `<target schema>_` prefix, so that users find `marts.fct_calls` where the contract says.
    PBX55_SCHEMA_PREFIX (empty by default) isolates parallel test runs sharing one Postgres database.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ env_var('PBX55_SCHEMA_PREFIX', '') ~ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
