{# A column the model computes from a closed vocabulary. An invariant (macros/invariants.sql):
   finds each other value and how many rows hold it. #}
{% test invariant_accepted_values(model, column_name, values) %}
    select
        {{ column_name }} as unexpected_value,
        count(*) as rows_with_this_value
    from {{ model }}
    where
        {{ column_name }} is not null
        and {{ column_name }} not in ({% for value in values %}'{{ value }}'{{ ', ' if not loop.last }}{% endfor %})
    group by {{ column_name }}
{% endtest %}
