{{ config(materialized='table') }}

with

legs as (

    select
        central_id,
        call_id,
        transfer_call_id,
        -- A leg's place in time: its source start, else its first receipt.
        coalesce(started_at_utc, first_received_at) as leg_started_at
    from {{ ref('int_calls__reduced') }}

),

linked as (

    -- Which leg carries `call_transfer_id` is not settled (field-notes.md): take either direction.
    select
        leg.central_id,
        leg.call_id,
        leg.leg_started_at,
        partner.call_id as partner_call_id,
        partner.leg_started_at as partner_started_at
    from legs as leg
    inner join legs as partner
        on
            leg.central_id = partner.central_id
            and leg.transfer_call_id = partner.call_id
    where leg.transfer_call_id <> leg.call_id

),

ordered as (

    -- The older leg is the parent; the call id breaks ties, so edges never form a cycle in time.
    select
        *,
        leg_started_at < partner_started_at
        or (leg_started_at = partner_started_at and call_id < partner_call_id) as leg_is_parent
    from linked

),

oriented as (

    -- Each edge carries its parent's start, so the journey walk needs no other model.
    select
        central_id,
        case when leg_is_parent then call_id else partner_call_id end as parent_call_id,
        case when leg_is_parent then partner_call_id else call_id end as child_call_id,
        case when leg_is_parent then leg_started_at else partner_started_at end as parent_started_at
    from ordered

)

select distinct
    {{ surrogate_key(['central_id', 'parent_call_id', 'child_call_id']) }} as transfer_key,
    central_id,
    parent_call_id,
    child_call_id,
    parent_started_at
from oriented
