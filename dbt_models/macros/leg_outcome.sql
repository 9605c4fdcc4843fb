{#
    The outcome of a finished leg (kpis.md, building blocks), in one vocabulary for the pushes
    (int_calls__reduced) and the report (stg_pbx55__report_calls). A leg the IVR kept
    (`call_retained_ura`: the closed-hours message, or self-service that needed no agent) is
    `retained_ivr`, not an abandon: as Amazon Connect and Twilio count them, only a caller who
    hangs up abandons.
#}
{#- The branches of a `case` (the caller writes `case`, its own earlier branches, and `end`). -#}
{% macro finished_leg_outcome_branches(is_answered, call_kind, status, queue) -%}
    when {{ is_answered }} then 'answered'
    when {{ call_kind }} = 'outbound' then 'not_answered'
    when {{ status }} = 'retained_ivr' then 'retained_ivr'
    when {{ call_kind }} = 'inbound' and {{ queue }} is not null then 'abandoned_queue'
    when {{ call_kind }} = 'inbound' then 'abandoned_ivr'
    else 'unknown'
{%- endmacro %}
