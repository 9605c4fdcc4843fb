{# Columns the model computes never to be null: the one column, or each of `columns` (one test per
   model rather than per column, since every test is a node that costs each build its fixed time).
   An invariant (macros/invariants.sql): finds the whole rows, keys included. #}
{% test invariant_not_null(model, columns=none, column_name=none) %}
    select *
    from {{ model }}
    where
        {%- for column in columns or [column_name] %}
            {% if not loop.first %}or {% endif %}{{ column }} is null
        {%- endfor %}
{% endtest %}
