{#
    Erlang C (M/M/n: Poisson arrivals, exponential handle times, no abandons), in plain SQL that
    DuckDB and Postgres compute alike. `traffic` is the offered load A in erlangs (calls x mean
    handle time / interval length), `agents` n, `blocking` Erlang B's B(n) for A, which
    erlang_c_staffing computes by the recursion B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1)),
    stable where the factorials of the textbook form overflow. Each formula holds for n > A.
#}

{# C(n, A): the probability that a call waits, n B / (n - A (1 - B)). #}
{% macro erlang_c_wait_probability(agents, traffic, blocking) -%}
    ({{ agents }} * {{ blocking }} / ({{ agents }} - {{ traffic }} * (1 - {{ blocking }})))
{%- endmacro %}

{#
    Service level: the share answered within `threshold_s`, 1 - C exp(-(n - A) T / AHT). The
    exponent is held at -700 or above: Postgres refuses an exp() that underflows (the term is
    0 to double precision there anyway).
#}
{% macro erlang_c_service_level(agents, traffic, blocking, threshold_s, handle_seconds) -%}
    (1 - {{ erlang_c_wait_probability(agents, traffic, blocking) }} * exp(
        greatest(
            -1.0 * ({{ agents }} - {{ traffic }}) * {{ threshold_s }} / {{ handle_seconds }},
            -700.0
        )
    ))
{%- endmacro %}

{# Mean wait of all calls (ASA), C AHT / (n - A), seconds. #}
{% macro erlang_c_asa(agents, traffic, blocking, handle_seconds) -%}
    ({{ erlang_c_wait_probability(agents, traffic, blocking) }} * {{ handle_seconds }}
    / ({{ agents }} - {{ traffic }}))
{%- endmacro %}

{#
    Two CTEs, to follow the `inputs` CTE of a `with recursive` chain. `inputs` has one row per
    `key` with `traffic_erlangs` > 0 and `handle_seconds` > 0. `erlang_agent_counts` walks the
    agent counts from 0 up, one row each, and stops at the first count above the load whose
    service level reaches `target` (answered within `threshold_s`); `erlang_staffing` keeps
    that row per key: `agents_required`, and the service level, ASA and occupancy (A / n) it
    gives. The service level rises to 1 as agents are added, so a target below 1 is always met;
    the walk also stops at 10000 agents.
#}
{% macro erlang_c_staffing(inputs, key, threshold_s, target) -%}
    {%- if not (0 < target < 1) -%}
        {{ exceptions.raise_compiler_error("the Erlang C service-level target must be between 0 and 1, not " ~ target) }}
    {%- endif -%}
erlang_agent_counts as (

    select
        {{ key }},
        traffic_erlangs,
        handle_seconds,
        0 as agents,
        cast(1 as double precision) as blocking
    from {{ inputs }}

    union all

    select
        {{ key }},
        traffic_erlangs,
        handle_seconds,
        agents + 1 as agents,
        cast(
            traffic_erlangs * blocking / (agents + 1 + traffic_erlangs * blocking)
            as double precision
        ) as blocking
    from erlang_agent_counts
    where
        agents < 10000
        and not (
            agents > traffic_erlangs
            and {{ erlang_c_service_level(
                'agents', 'traffic_erlangs', 'blocking', threshold_s, 'handle_seconds'
            ) }} >= {{ target }}
        )

),

erlang_staffing as (

    select
        {{ key }},
        agents as agents_required,
        {{ rounded(erlang_c_service_level(
            'agents', 'traffic_erlangs', 'blocking', threshold_s, 'handle_seconds'
        ), 4) }} as expected_service_level,
        {{ rounded(erlang_c_asa('agents', 'traffic_erlangs', 'blocking', 'handle_seconds'), 2) }}
        as expected_asa_seconds,
        {{ rounded(erlang_c_wait_probability('agents', 'traffic_erlangs', 'blocking'), 4) }}
        as expected_wait_probability,
        {{ rounded('traffic_erlangs / agents', 4) }} as expected_occupancy
    from erlang_agent_counts
    where
        agents > traffic_erlangs
        and {{ erlang_c_service_level(
            'agents', 'traffic_erlangs', 'blocking', threshold_s, 'handle_seconds'
        ) }} >= {{ target }}

)
{%- endmacro %}
