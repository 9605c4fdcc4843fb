{# A column the model computes never to be null. An invariant (macros/invariants.sql): finds the
   whole rows, keys included. #}
{% test invariant_not_null(model, column_name) %}
    select *
    from {{ model }}
    where {{ column_name }} is null
{% endtest %}
