{# Every value of a column the model takes from `to`.`field` is there. An invariant
   (macros/invariants.sql): finds each missing value and how many rows hold it. #}
{% test invariant_relationships(model, column_name, to, field) %}
    with

    child as (

        select {{ column_name }} as value
        from {{ model }}
        where {{ column_name }} is not null

    ),

    parent as (

        select {{ field }} as value
        from {{ to }}

    )

    select
        child.value as missing_value,
        count(*) as rows_with_this_value
    from child
    where not exists (select 1 from parent where parent.value = child.value)
    group by child.value
{% endtest %}
