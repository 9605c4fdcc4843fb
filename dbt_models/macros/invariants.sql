{#
    Data tests come in two kinds. A data-quality finding is anything a sender's data can cause (a
    push without a call key, a negative wait): severity warn, and the refresh goes on. An
    invariant is a fact of pbx55's own logic that no data can break (a model's key is unique, a
    column computed never to be null): severity error, because a failure means a bug or rows
    built by an older pbx55, and the marts built on them would be wrong. Invariants use the
    tests in tests/generic/invariant_*.sql, whose rows identify what broke.

    On a failed invariant, the end of the run (on-run-end, dbt_project.yml) logs the first rows
    the test found and what to do, so the failure names its rows without a stored copy of them
    (storing failures would cost every build a view per test).
#}
{% macro report_broken_invariants(results) %}
    {%- if execute -%}
        {%- for result in results -%}
            {%- set node = result.node -%}
            {%- if node.resource_type == 'test' and result.status == 'fail'
                and node.test_metadata and node.test_metadata.name.startswith('invariant_') -%}
                {%- set found = run_query(
                    'select * from (' ~ node.compiled_code ~ ') as broken limit 5'
                ) -%}
                {%- set examples = [] -%}
                {%- for row in found.rows -%}
                    {%- set pairs = [] -%}
                    {%- for name in found.column_names -%}
                        {%- do pairs.append(name ~ '=' ~ row[name]) -%}
                    {%- endfor -%}
                    {%- do examples.append('(' ~ pairs | join(', ') ~ ')') -%}
                {%- endfor -%}
                {%- do log(
                    'Broken invariant ' ~ node.name ~ ': found ' ~ result.failures ~ ', e.g. '
                    ~ examples | join('; ') ~ '. ' ~ invariant_remedy().split() | join(' '),
                    info=true
                ) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
{% endmacro %}

{% macro invariant_remedy() -%}
    Not a data problem: a pbx55 model broke its own invariant (a bug, or rows built by an older
    pbx55). Rebuild with `pbx55 build --full-refresh`; if this test fails again, report it with
    these rows (the test's SQL finds them all).
{%- endmacro %}
