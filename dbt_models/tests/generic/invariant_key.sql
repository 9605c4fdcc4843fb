{# A model's key column: no two rows share it or the `natural_key` columns it is made of, and the
   columns in `not_null` (the keys among them) are never null. One test for all three, since every
   test is a node that costs each build a fixed time. An invariant (macros/invariants.sql): finds
   each offending row, by its keys, with how many rows share them. #}
{% test invariant_key(model, column_name, not_null, natural_key=none) %}
    {%- set key = column_name %}
    {%- set shown = [key] + (natural_key or []) %}
    {%- for column in not_null if column not in shown %}
        {%- do shown.append(column) %}
    {%- endfor %}
    with

    keyed as (

        select
            {{ shown | join(', ') }},
            count(*) over (partition by {{ key }}) as rows_with_this_key
            {%- if natural_key %},
            count(*) over (partition by {{ natural_key | join(', ') }}) as rows_with_this_natural_key
            {%- endif %}
        from {{ model }}

    )

    select *
    from keyed
    where
        rows_with_this_key > 1
        {%- if natural_key %}
            or rows_with_this_natural_key > 1
        {%- endif %}
        {%- for column in not_null %}
            or {{ column }} is null
        {%- endfor %}
{% endtest %}
