{# A text field as sent, with blank strings treated as absent. #}
{% macro blank_to_null(expression) -%}
    nullif(trim({{ expression }}), '')
{%- endmacro %}

{#
    Vocabulary values compared trimmed, case- and accent-insensitive. Accents are folded with
    translate() before lower(), because lower() ignores non-ASCII letters in a Postgres database with
    the C locale.
#}
{% macro normalise_label(expression) -%}
    lower(trim(translate(
        {{ expression }},
        'ÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇáàâãäéèêëíìîïóòôõöúùûüç',
        'AAAAAEEEEIIIIOOOOOUUUUCaaaaaeeeeiiiiooooouuuuc'
    )))
{%- endmacro %}
