{#
    Every KPI of kpis.md is written once here, as additive counts over rows of fct_calls
    (kpi_counts) and as ratios of such counts (kpi_ratios). The per-day marts, the per-dimension
    marts and the heatmap all take them from here: the heatmap sums the counts of kpi_by_hour
    first and then applies the same ratios, so no mart can drift from another.
    Offered = receptive leg with a queue; `answered`/`abandoned` below are offered legs only.
    A value fct_calls does not know (null: the talk, cost or billing of a leg without a final
    state) is left out of a sum, and each average divides by the legs whose value is known.
#}
{% macro kpi_counts() -%}
    {%- set sl = var('sl_threshold_s') -%}
    {%- set answered = "is_offered and is_answered" -%}
    {%- set abandoned = "outcome = 'abandoned_queue'" -%}
    {%- set counts = {
        'legs': "count(*)",
        'inbound_calls': "call_kind = 'inbound' and not is_transfer_in",
        'outbound_calls': "call_kind = 'outbound'",
        'sms_sent': "call_kind = 'sms'",
        'transfer_in_legs': "is_transfer_in",
        'offered': "is_offered",
        'answered': answered,
        'abandoned': abandoned,
        'short_abandons': "is_short_abandon",
        'abandoned_ivr': "outcome = 'abandoned_ivr'",
        'retained_ivr': "outcome = 'retained_ivr'",
        'in_progress': "outcome = 'in_progress'",
        'incomplete': "outcome = 'incomplete'",
        'unmeasured_legs': "outcome in ('in_progress', 'incomplete')",
        'answered_within_sl': answered ~ " and wait_seconds <= " ~ sl,
        'abandoned_within_sl': abandoned ~ " and wait_seconds <= " ~ sl,
        'abandoned_after_sl': abandoned ~ " and wait_seconds > " ~ sl,
        'answered_after_300s': answered ~ " and wait_seconds > 300",
        'abandoned_after_300s': abandoned ~ " and wait_seconds > 300",
        'answered_legs': "is_answered",
        'answered_talk_known': "is_answered and talk_seconds is not null",
        'answered_transferred_out': "is_answered and has_transfer_out",
        'answered_recorded': "is_answered and has_recording",
        'answered_agent_hung_up': "is_answered and hung_up_by = 'agent'",
        'answered_hung_up_known': "is_answered and hung_up_by in ('agent', 'caller')",
        'costed_calls': "call_kind <> 'sms' and cost is not null",
        'costed_answered_legs': "is_answered and call_kind <> 'sms' and cost is not null",
        'calls_from_report': "final_state_source = 'report'",
    } -%}
    {%- for bound in [15, 20, 30, 60, 120, 300] -%}
        {%- do counts.update({
            'answered_within_' ~ bound ~ 's': answered ~ " and wait_seconds <= " ~ bound,
            'abandoned_within_' ~ bound ~ 's': abandoned ~ " and wait_seconds <= " ~ bound,
        }) -%}
    {%- endfor -%}
    {%- set sums = {} -%}
    {%- for name, condition in counts.items() -%}
        {%- if condition.startswith('count(') -%}
            {%- do sums.update({name: condition}) -%}
        {%- else -%}
            {%- do sums.update({name: "sum(case when " ~ condition ~ " then 1 else 0 end)"}) -%}
        {%- endif -%}
    {%- endfor -%}
    {#- Sums of a value over the legs a condition selects. -#}
    {%- for name, value, condition in [
        ('answered_wait_seconds', 'wait_seconds', answered),
        ('abandoned_wait_seconds', 'wait_seconds', abandoned),
        ('answered_talk_seconds', 'talk_seconds', 'is_answered'),
        ('cost_amount', 'cost', "call_kind <> 'sms'"),
        ('billed_minutes_amount', 'billed_minutes', "call_kind <> 'sms'"),
        ('costed_billed_minutes', 'billed_minutes', "call_kind <> 'sms' and cost is not null"),
        ('sms_cost_amount', 'cost', "call_kind = 'sms'"),
    ] -%}
        {%- do sums.update({name: "sum(case when " ~ condition ~ " then " ~ value ~ " else 0 end)"}) -%}
    {%- endfor -%}
    {{ return(sums) }}
{%- endmacro %}

{#
    Every KPI ratio, as numerator / denominator of additive counts (terms added, `-` subtracts),
    with its decimals. `counts` maps each term to an aggregate expression: kpi_counts() over legs,
    summed_counts() over pre-aggregated rows, or a mart's own counts (journeys, tariff classes).
#}
{% macro kpi_ratio_definitions() -%}
    {{ return({
        'service_level': [['answered_within_sl'], ['answered', 'abandoned', '-short_abandons'], 4],
        'service_level_asterisk_sl': [['answered_within_sl'], ['answered'], 4],
        'service_level_asterisk_sl2': [
            ['answered_within_sl', 'abandoned_within_sl'], ['answered', 'abandoned'], 4
        ],
        'service_level_cisco_icm': [['answered_within_sl'], ['answered', 'abandoned_after_sl'], 4],
        'service_level_amazon': [['answered_within_sl', 'abandoned_within_sl'], ['offered'], 4],
        'asa_seconds': [['answered_wait_seconds'], ['answered'], 2],
        'avg_abandon_wait_seconds': [['abandoned_wait_seconds'], ['abandoned'], 2],
        'abandon_rate': [['abandoned'], ['offered'], 4],
        'abandon_rate_ex_short': [['abandoned', '-short_abandons'], ['offered', '-short_abandons'], 4],
        'ivr_abandon_rate': [['abandoned_ivr'], ['inbound_calls'], 4],
        'ivr_retained_rate': [['retained_ivr'], ['inbound_calls'], 4],
        'talk_mean_seconds': [['answered_talk_seconds'], ['answered_talk_known'], 2],
        'transfer_rate': [['answered_transferred_out'], ['answered_legs'], 4],
        'recording_coverage': [['answered_recorded'], ['answered_legs'], 4],
        'agent_hung_up_first_rate': [['answered_agent_hung_up'], ['answered_hung_up_known'], 4],
        'cost_per_call': [['cost_amount'], ['costed_calls'], 4],
        'cost_per_answered_call': [['cost_amount'], ['costed_answered_legs'], 4],
        'cost_per_billed_minute': [['cost_amount'], ['costed_billed_minutes'], 4],
        'journey_abandon_rate': [['journeys_abandoned'], ['journeys'], 4],
        'journey_transfer_rate': [['journeys_transferred'], ['journeys'], 4],
        'legs_per_journey': [['journey_legs'], ['journeys'], 2],
        'journey_wait_mean_seconds': [['journey_wait_seconds'], ['journeys'], 2],
        'journey_cost_mean': [['journey_cost_amount'], ['costed_journeys'], 4],
        'repeat_rate_caller_24h': [['repeated_by_caller_24h'], ['repeat_known_caller_24h'], 4],
        'repeat_rate_caller_168h': [['repeated_by_caller_168h'], ['repeat_known_caller_168h'], 4],
        'repeat_rate_document_24h': [['repeated_by_document_24h'], ['repeat_known_document_24h'], 4],
        'repeat_rate_document_168h': [['repeated_by_document_168h'], ['repeat_known_document_168h'], 4],
        'share_of_legs': [['legs'], ['legs_in_group'], 4],
        'share_of_journeys': [['journeys'], ['journeys_in_group'], 4],
    }) }}
{%- endmacro %}

{# The columns `names` of kpi_ratio_definitions, over the aggregate expressions `counts`. #}
{% macro kpi_ratios(counts, names) -%}
    {%- set definitions = kpi_ratio_definitions() -%}
    {%- for name in names %}
        {%- set numerator, denominator, digits = definitions[name] %}
    {{ ratio(kpi_terms(counts, numerator), kpi_terms(counts, denominator), digits) }} as {{ name }}
        {%- if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}

{% macro kpi_terms(counts, terms) -%}
    {%- for term in terms -%}
        {%- if term.startswith('-') -%}
            {{ ' - ' ~ counts[term[1:]] }}
        {%- else -%}
            {{ (' + ' if not loop.first else '') ~ counts[term] }}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{# The counts `names` of kpi_counts() as columns of the same names. #}
{% macro kpi_count_columns(names) -%}
    {%- set counts = kpi_counts() -%}
    {%- for name in names %}
    {{ counts[name] }} as {{ name }}{% if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}

{# Counts of rows that already hold the counts `names`: each is the sum of its column. #}
{% macro summed_counts(names) -%}
    {%- set counts = {} -%}
    {%- for name in names -%}
        {%- do counts.update({name: 'sum(' ~ name ~ ')'}) -%}
    {%- endfor -%}
    {{ return(counts) }}
{%- endmacro %}

{# The leg KPIs of kpis.md as aggregate columns over rows of fct_calls (every leg KPI mart). #}
{% macro leg_kpi_columns() -%}
    {%- set counts = kpi_counts() -%}
    {%- set answered = "is_offered and is_answered" -%}
    {%- set abandoned = "outcome = 'abandoned_queue'" -%}
    {%- set buckets = [] -%}
    {%- for bound in [15, 20, 30, 60, 120, 300] -%}
        {%- do buckets.extend(['answered_within_' ~ bound ~ 's', 'abandoned_within_' ~ bound ~ 's']) -%}
    {%- endfor -%}
    {{ kpi_count_columns([
        'legs', 'inbound_calls', 'outbound_calls', 'sms_sent', 'transfer_in_legs', 'offered',
        'answered', 'abandoned', 'short_abandons', 'abandoned_ivr', 'retained_ivr', 'in_progress',
        'incomplete', 'unmeasured_legs', 'calls_from_report', 'answered_within_sl',
        'abandoned_within_sl',
    ]) }},
    {{ kpi_ratios(counts, [
        'service_level', 'service_level_asterisk_sl', 'service_level_asterisk_sl2',
        'service_level_cisco_icm', 'service_level_amazon', 'asa_seconds', 'avg_abandon_wait_seconds',
        'abandon_rate', 'abandon_rate_ex_short', 'ivr_abandon_rate', 'ivr_retained_rate',
    ]) }},
    {%- for outcome, condition in [('answered', answered), ('abandoned', abandoned)] %}
        {%- for label, fraction in [('p50', 0.5), ('p80', 0.8), ('p90', 0.9), ('p95', 0.95)] %}
    {{ percentile_cont("case when " ~ condition ~ " then wait_seconds end", fraction) }}
    as {{ outcome }}_wait_{{ label }}_seconds,
        {%- endfor %}
    max(case when {{ condition }} then wait_seconds end) as {{ outcome }}_wait_max_seconds,
    {%- endfor %}
    {{ kpi_count_columns(buckets + ['answered_after_300s', 'abandoned_after_300s', 'answered_legs']) }},
    {{ kpi_ratios(counts, ['talk_mean_seconds']) }},
    {{ percentile_cont("case when is_answered then talk_seconds end", 0.5) }} as talk_p50_seconds,
    {{ percentile_cont("case when is_answered then talk_seconds end", 0.9) }} as talk_p90_seconds,
    {{ kpi_ratios(counts, ['transfer_rate', 'recording_coverage', 'agent_hung_up_first_rate']) }},
    {{ rounded(counts['billed_minutes_amount'], 1) }} as billed_minutes,
    {{ rounded(counts['cost_amount'], 4) }} as voice_cost,
    {{ kpi_ratios(counts, ['cost_per_call', 'cost_per_answered_call', 'cost_per_billed_minute']) }},
    {{ rounded(counts['sms_cost_amount'], 4) }} as sms_cost
{%- endmacro %}

{#
    A leg KPI mart per day x central x one dimension column of fct_calls (kpi_by_queue,
    kpi_by_agent): the legs that have the dimension, on the rebuilt days, with every leg KPI.
#}
{% macro leg_kpis_by(dimension) -%}
with

calls as (

    {{ rows_on_rebuilt_days('fct_calls') }}

)

select
    {{ surrogate_key(['reported_date', 'central_id', dimension]) }} as kpi_key,
    reported_date,
    central_id,
    {{ dimension }},
    {{ leg_kpi_columns() }},
    {{ run_started_at_utc() }} as built_at
from calls
where {{ dimension }} is not null
group by reported_date, central_id, {{ dimension }}
{%- endmacro %}
