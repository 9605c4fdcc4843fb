-- Cost by DID (`call_terminal`, the company's trunk number, not the caller's).
with

calls as (

    select
        *,
        coalesce(did, 'unknown') as did_or_unknown
    from ({{ rows_on_rebuilt_days('fct_calls') }}) as rebuilt

),

-- As kpi_by_tariff_class: unknown costs and billing are left out of sums and ratios.
{%- set counts = {
    'cost_amount': 'sum(cost)',
    'costed_calls': 'count(cost)',
    'billed_minutes_amount': 'sum(billed_minutes)',
    'costed_billed_minutes': 'sum(case when cost is not null then billed_minutes end)',
} %}

final as (

    select
        {{ surrogate_key(['reported_date', 'central_id', 'did_or_unknown', 'call_kind']) }} as kpi_key,
        reported_date,
        central_id,
        did_or_unknown as did,
        call_kind,
        count(*) as legs,
        {{ rounded(counts['billed_minutes_amount'], 1) }} as billed_minutes,
        {{ rounded(counts['cost_amount'], 4) }} as cost_total,
        {{ kpi_ratios(counts, ['cost_per_call', 'cost_per_billed_minute']) }},
        {{ kpi_count_columns(['calls_from_report', 'unmeasured_legs']) }},
        {{ run_started_at_utc() }} as built_at
    from calls
    group by reported_date, central_id, did_or_unknown, call_kind

)

select * from final
