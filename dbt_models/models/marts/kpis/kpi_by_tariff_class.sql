with

calls as (

    {{ rows_on_rebuilt_days('fct_calls') }}

),

-- Unknown costs and billing (null: legs without a final state) are left out of the sums, and
-- each cost ratio divides by the legs whose cost is known.
{%- set counts = {
    'cost_amount': 'sum(cost)',
    'costed_calls': 'count(cost)',
    'answered_legs': 'sum(case when is_answered then 1 else 0 end)',
    'costed_answered_legs': 'sum(case when is_answered and cost is not null then 1 else 0 end)',
    'billed_minutes_amount': 'sum(billed_minutes)',
    'costed_billed_minutes': 'sum(case when cost is not null then billed_minutes end)',
} %}

final as (

    select
        {{ surrogate_key(['reported_date', 'central_id', 'tariff_class']) }} as kpi_key,
        reported_date,
        central_id,
        tariff_class,
        count(*) as legs,
        {{ counts['answered_legs'] }} as answered_legs,
        sum(talk_seconds) as talk_seconds,
        sum(billed_seconds) as billed_seconds,
        {{ rounded(counts['billed_minutes_amount'], 1) }} as billed_minutes,
        {{ rounded(counts['cost_amount'], 4) }} as cost_total,
        -- Every leg of the class counts, SMS included (a class is voice or SMS, never both).
        {{ kpi_ratios(counts, ['cost_per_call', 'cost_per_answered_call', 'cost_per_billed_minute']) }},
        sum(case when dq_cost_mismatch then 1 else 0 end) as cost_mismatch_legs,
        {{ kpi_count_columns(['calls_from_report', 'unmeasured_legs']) }},
        {{ run_started_at_utc() }} as built_at
    from calls
    group by reported_date, central_id, tariff_class

)

select * from final
