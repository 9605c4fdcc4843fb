{# No two rows share the key `columns` (or the one column), compared column by column. An
   invariant (macros/invariants.sql): finds each key held by more than one row. #}
{% test invariant_unique(model, columns=none, column_name=none) %}
    {%- set key = (columns or [column_name]) | join(', ') %}
    select
        {{ key }},
        count(*) as rows_with_this_key
    from {{ model }}
    group by {{ key }}
    having count(*) > 1
{% endtest %}
