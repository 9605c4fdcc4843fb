{#
    Typing the report API's values (docs/contracts.md, "Report API"). The raw tables keep every
    field as text as sent; each macro below gives the typed value, or null where the text does
    not fit, which the staging models flag in `parse_errors`. Every cast runs only on text a
    pattern has already validated, so no value can fail a build, on DuckDB or on Postgres.
#}

{# A report value as sent, trimmed, with blank strings and empty JSON arrays treated as absent. #}
{% macro report_present(expression) -%}
    case when trim({{ expression }}) in ('', '[]') then null else trim({{ expression }}) end
{%- endmacro %}

{# Whole seconds from `H:MM:SS` (hours of any width up to 5 digits) or plain seconds. #}
{% macro report_seconds(expression) -%}
    case
        when {{ regex_matches(expression, "'^[0-9]{1,5}:[0-5][0-9]:[0-5][0-9]$'") }}
            then
                cast(split_part({{ expression }}, ':', 1) as {{ dbt.type_bigint() }}) * 3600
                + cast(split_part({{ expression }}, ':', 2) as {{ dbt.type_bigint() }}) * 60
                + cast(split_part({{ expression }}, ':', 3) as {{ dbt.type_bigint() }})
        {{ report_whole_number_branch(expression) }}
    end
{%- endmacro %}

{# A whole number sent as digits (report_whole_number_branch). #}
{% macro report_count(expression) -%}
    case
        {{ report_whole_number_branch(expression) }}
    end
{%- endmacro %}

{#
    The `when` branch of a whole number sent as digits, `12`, `12.0` or `12,0` (a JSON number
    arrives as its literal), below 10^9 like the pushes' durations: other fractions and other
    text stay untyped.
#}
{% macro report_whole_number_branch(expression) -%}
    when {{ regex_matches(expression, "'^[0-9]{1,9}([.,]0+)?$'") }}
        then cast(regexp_replace({{ expression }}, '[.,]0+$', '') as {{ dbt.type_bigint() }})
{%- endmacro %}

{# A percentage, `85`, `85.5`, `85,5` or `85.5%`, as a ratio 0-1 with 4 decimals. #}
{% macro report_percent_as_ratio(expression) -%}
    case
        when {{ regex_matches(expression, "'^[0-9]{1,3}([.,][0-9]{1,6})? ?%?$'") }}
            then {{ rounded(
                "cast(replace(replace(replace(" ~ expression ~ ", '%', ''), ' ', ''), ',', '.')"
                ~ " as numeric(28, 6)) / 100",
                4
            ) }}
    end
{%- endmacro %}

{#
    An agent's extension sent as text (`5000`) or as a one-element JSON array (`["5000"]`,
    `[5000]`). An array of several extensions names no one agent: it stays untyped.
#}
{% macro report_extension(expression) -%}
    case
        when {{ regex_matches(expression, "'^\\[ *\"?[^\",\\[\\]]+\"? *\\]$'") }}
            then nullif(trim(replace(substr({{ expression }}, 2, length({{ expression }}) - 2), '"', '')), '')
        when {{ expression }} not like '[%' then {{ expression }}
    end
{%- endmacro %}

{#
    A report time as wall time in the reporting time zone (var `timezone`). The report labels
    Brasília wall time with `Z` (`2026-05-12T14:03:22.000Z`): the `Z` is not UTC. Also read: the
    same without `Z`, with a space for `T`, without seconds; a time with an offset (`-03:00`) is
    that instant. A day the month lacks (`2026-02-30`) stays untyped.
#}
{% macro report_wall_time(expression) -%}
    {%- set date_time = '[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3])'
        ~ ':[0-5][0-9](:[0-5][0-9]([.][0-9]{1,6})?)?' -%}
    {%- set first_of_month = 'cast(substr(' ~ expression ~ ", 1, 7) || '-01' as date)" -%}
    {%- set day_exists = 'cast(substr(' ~ expression ~ ', 9, 2) as ' ~ dbt.type_int() ~ ')'
        ~ ' <= extract(day from ' ~ dbt.last_day(first_of_month, 'month') ~ ')' -%}
    case
        when {{ regex_matches(expression, "'^" ~ date_time ~ "Z?$'") }}
            then
                case
                    when {{ day_exists }}
                        then cast(replace(replace({{ expression }}, 'T', ' '), 'Z', '') as timestamp)
                end
        when {{ regex_matches(expression, "'^" ~ date_time ~ "[+-]([01][0-9]|2[0-3]):?[0-5][0-9]$'") }}
            then
                case
                    when {{ day_exists }}
                        then {{ to_reporting_time('cast(' ~ expression ~ ' as timestamptz)') }}
                end
    end
{%- endmacro %}

{#
    The comma-separated names of the fields in `fields` (a list of names) whose value was sent
    but could not be typed: `<name>` holds the value as sent (report_present), `<name>_typed`
    the typed one. Null when every value was typed.
#}
{% macro report_parse_errors(fields) -%}
    nullif(concat_ws(
        ','
        {%- for name in fields %},
        case when {{ name }} is not null and {{ name }}_typed is null then '{{ name }}' end
        {%- endfor %}
    ), '')
{%- endmacro %}
