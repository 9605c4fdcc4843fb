{#
    The per-leg KPIs of kpis.md as aggregate columns over rows of fct_calls, so that every KPI
    mart (by day, queue, agent, hour x weekday) computes them with the same formula.
    Offered = receptive leg with a queue; `answered`/`abandoned` below are offered legs only.
#}
{% macro leg_kpi_columns() -%}
    {%- set sl = var('sl_threshold_s') -%}
    {%- set answered = "is_offered and is_answered" -%}
    {%- set abandoned = "outcome = 'abandoned_queue'" -%}
    count(*) as legs,
    sum(case when call_kind = 'inbound' and not is_transfer_in then 1 else 0 end) as inbound_calls,
    sum(case when call_kind = 'outbound' then 1 else 0 end) as outbound_calls,
    sum(case when call_kind = 'sms' then 1 else 0 end) as sms_sent,
    sum(case when is_transfer_in then 1 else 0 end) as transfer_in_legs,
    sum(case when is_offered then 1 else 0 end) as offered,
    sum(case when {{ answered }} then 1 else 0 end) as answered,
    sum(case when {{ abandoned }} then 1 else 0 end) as abandoned,
    sum(case when is_short_abandon then 1 else 0 end) as short_abandons,
    sum(case when outcome = 'abandoned_ivr' then 1 else 0 end) as abandoned_ivr,
    sum(case when outcome = 'in_progress' then 1 else 0 end) as in_progress,
    sum(case when outcome = 'incomplete' then 1 else 0 end) as incomplete,
    sum(case when {{ answered }} and wait_seconds <= {{ sl }} then 1 else 0 end) as answered_within_sl,
    sum(case when {{ abandoned }} and wait_seconds <= {{ sl }} then 1 else 0 end) as abandoned_within_sl,
    {{ ratio(
        "sum(case when " ~ answered ~ " and wait_seconds <= " ~ sl ~ " then 1 else 0 end)",
        "sum(case when " ~ answered ~ " or " ~ abandoned ~ " then 1 else 0 end)"
        ~ " - sum(case when is_short_abandon then 1 else 0 end)"
    ) }} as service_level,
    {{ ratio(
        "sum(case when " ~ answered ~ " and wait_seconds <= " ~ sl ~ " then 1 else 0 end)",
        "sum(case when " ~ answered ~ " then 1 else 0 end)"
    ) }} as service_level_asterisk_sl,
    {{ ratio(
        "sum(case when (" ~ answered ~ " or " ~ abandoned ~ ") and wait_seconds <= " ~ sl ~ " then 1 else 0 end)",
        "sum(case when " ~ answered ~ " or " ~ abandoned ~ " then 1 else 0 end)"
    ) }} as service_level_asterisk_sl2,
    {{ ratio(
        "sum(case when " ~ answered ~ " and wait_seconds <= " ~ sl ~ " then 1 else 0 end)",
        "sum(case when " ~ answered ~ " or (" ~ abandoned ~ " and wait_seconds > " ~ sl ~ ") then 1 else 0 end)"
    ) }} as service_level_cisco_icm,
    {{ ratio(
        "sum(case when (" ~ answered ~ " or " ~ abandoned ~ ") and wait_seconds <= " ~ sl ~ " then 1 else 0 end)",
        "sum(case when is_offered then 1 else 0 end)"
    ) }} as service_level_amazon,
    {{ ratio(
        "sum(case when " ~ answered ~ " then wait_seconds else 0 end)",
        "sum(case when " ~ answered ~ " then 1 else 0 end)", 2
    ) }} as asa_seconds,
    {{ ratio(
        "sum(case when " ~ abandoned ~ " then wait_seconds else 0 end)",
        "sum(case when " ~ abandoned ~ " then 1 else 0 end)", 2
    ) }} as avg_abandon_wait_seconds,
    {{ ratio(
        "sum(case when " ~ abandoned ~ " then 1 else 0 end)",
        "sum(case when is_offered then 1 else 0 end)"
    ) }} as abandon_rate,
    {{ ratio(
        "sum(case when " ~ abandoned ~ " and not is_short_abandon then 1 else 0 end)",
        "sum(case when is_offered and not is_short_abandon then 1 else 0 end)"
    ) }} as abandon_rate_ex_short,
    {{ ratio(
        "sum(case when outcome = 'abandoned_ivr' then 1 else 0 end)",
        "sum(case when call_kind = 'inbound' and not is_transfer_in then 1 else 0 end)"
    ) }} as ivr_abandon_rate,
    {%- for label, fraction in [('p50', 0.5), ('p80', 0.8), ('p90', 0.9), ('p95', 0.95)] %}
    {{ percentile_cont("case when " ~ answered ~ " then wait_seconds end", fraction) }}
    as answered_wait_{{ label }}_seconds,
    {%- endfor %}
    max(case when {{ answered }} then wait_seconds end) as answered_wait_max_seconds,
    {%- for label, fraction in [('p50', 0.5), ('p80', 0.8), ('p90', 0.9), ('p95', 0.95)] %}
    {{ percentile_cont("case when " ~ abandoned ~ " then wait_seconds end", fraction) }}
    as abandoned_wait_{{ label }}_seconds,
    {%- endfor %}
    max(case when {{ abandoned }} then wait_seconds end) as abandoned_wait_max_seconds,
    {%- for bound in [15, 20, 30, 60, 120, 300] %}
    sum(case when {{ answered }} and wait_seconds <= {{ bound }} then 1 else 0 end)
    as answered_within_{{ bound }}s,
    sum(case when {{ abandoned }} and wait_seconds <= {{ bound }} then 1 else 0 end)
    as abandoned_within_{{ bound }}s,
    {%- endfor %}
    sum(case when {{ answered }} and wait_seconds > 300 then 1 else 0 end) as answered_after_300s,
    sum(case when {{ abandoned }} and wait_seconds > 300 then 1 else 0 end) as abandoned_after_300s,
    sum(case when is_answered then 1 else 0 end) as answered_legs,
    {{ ratio(
        "sum(case when is_answered then talk_seconds else 0 end)",
        "sum(case when is_answered then 1 else 0 end)", 2
    ) }} as talk_mean_seconds,
    {{ percentile_cont("case when is_answered then talk_seconds end", 0.5) }} as talk_p50_seconds,
    {{ percentile_cont("case when is_answered then talk_seconds end", 0.9) }} as talk_p90_seconds,
    {{ ratio(
        "sum(case when is_answered and has_transfer_out then 1 else 0 end)",
        "sum(case when is_answered then 1 else 0 end)"
    ) }} as transfer_rate,
    {{ ratio(
        "sum(case when is_answered and has_recording then 1 else 0 end)",
        "sum(case when is_answered then 1 else 0 end)"
    ) }} as recording_coverage,
    {{ ratio(
        "sum(case when is_answered and hung_up_by = 'agent' then 1 else 0 end)",
        "sum(case when is_answered and hung_up_by in ('agent', 'caller') then 1 else 0 end)"
    ) }} as agent_hung_up_first_rate,
    {{ rounded("sum(case when call_kind <> 'sms' then billed_minutes else 0 end)", 1) }} as billed_minutes,
    {{ rounded("sum(case when call_kind <> 'sms' then cost else 0 end)", 4) }} as voice_cost,
    {{ ratio(
        "sum(case when call_kind <> 'sms' then cost else 0 end)",
        "sum(case when call_kind <> 'sms' then 1 else 0 end)"
    ) }} as cost_per_call,
    {{ ratio(
        "sum(case when call_kind <> 'sms' then cost else 0 end)",
        "sum(case when is_answered then 1 else 0 end)"
    ) }} as cost_per_answered_call,
    {{ ratio(
        "sum(case when call_kind <> 'sms' then cost else 0 end)",
        "sum(case when call_kind <> 'sms' then billed_minutes else 0 end)"
    ) }} as cost_per_billed_minute,
    {{ rounded("sum(case when call_kind = 'sms' then cost else 0 end)", 4) }} as sms_cost
{%- endmacro %}
