{#
    The few places where DuckDB and Postgres need different SQL. Everything else uses dbt.* macros.
#}

{# Continuous percentile (linear interpolation, as Postgres percentile_cont), rounded to 2 decimals. #}
{% macro percentile_cont(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'pbx55')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile_cont(expression, fraction) -%}
    {{ pbx55.rounded('percentile_cont(' ~ fraction ~ ') within group (order by ' ~ expression ~ ')', 2) }}
{%- endmacro %}

{% macro duckdb__percentile_cont(expression, fraction) -%}
    {{ pbx55.rounded('quantile_cont(' ~ expression ~ ', ' ~ fraction ~ ')', 2) }}
{%- endmacro %}

{#
    Aggregate: the value of `expression` on the row with the smallest `order_expression` among the
    rows where `expression` is not null (`first_value ... ignore nulls`, which Postgres lacks).
#}
{% macro first_non_null_by(expression, order_expression) -%}
    {{ return(adapter.dispatch('first_non_null_by', 'pbx55')(expression, order_expression)) }}
{%- endmacro %}

{% macro default__first_non_null_by(expression, order_expression) -%}
    (array_agg({{ expression }} order by {{ order_expression }}) filter (where {{ expression }} is not null))[1]
{%- endmacro %}

{% macro duckdb__first_non_null_by(expression, order_expression) -%}
    arg_min({{ expression }}, {{ order_expression }}) filter (where {{ expression }} is not null)
{%- endmacro %}

{# Whether the text `expression` matches the regular expression `pattern` (a SQL string literal). #}
{% macro regex_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('regex_matches', 'pbx55')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regex_matches(expression, pattern) -%}
    coalesce({{ expression }} ~ {{ pattern }}, false)
{%- endmacro %}

{% macro duckdb__regex_matches(expression, pattern) -%}
    coalesce(regexp_matches({{ expression }}, {{ pattern }}), false)
{%- endmacro %}
