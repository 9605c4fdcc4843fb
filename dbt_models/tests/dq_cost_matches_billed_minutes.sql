-- Data quality (kpis.md): |call_cost - call_tax * billed minutes| within var `cost_tolerance`
-- (Anatel VC billing: 30 s minimum, then 6 s steps). The platform's cost stays the truth.
{{ config(severity='warn') }}

select
    central_id,
    call_id,
    tariff_class,
    tax_per_minute,
    billed_seconds,
    cost
from {{ ref('fct_calls') }}
where dq_cost_mismatch
