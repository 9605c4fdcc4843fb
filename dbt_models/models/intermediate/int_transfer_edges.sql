{{ config(materialized='table') }}

{#- The older leg is the parent; the call id breaks ties, so edges never form a cycle in time. -#}
{%- set leg_is_parent = "leg_started_at < partner_started_at"
    ~ " or (leg_started_at = partner_started_at and call_id < partner_call_id)" %}

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

reported_legs as (

    select
        central_id,
        call_id,
        call_id_origin,
        coalesce(
            started_at_utc, {{ reporting_time_to_utc('cast(report_day as timestamp)') }}
        ) as leg_started_at
    from {{ ref('int_report_calls') }}
    where is_listed

),

known_legs as (

    -- The legs of either source: a call only the report knows is placed by its start.
    select
        central_id,
        call_id,
        leg_started_at
    from legs

    union all

    select
        central_id,
        call_id,
        leg_started_at
    from reported_legs
    where not exists (
        select 1 from legs
        where legs.central_id = reported_legs.central_id and legs.call_id = reported_legs.call_id
    )

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

pushed_edges as (

    select
        central_id,
        case when {{ leg_is_parent }} then call_id else partner_call_id end as parent_call_id,
        case when {{ leg_is_parent }} then partner_call_id else call_id end as child_call_id,
        case when {{ leg_is_parent }} then leg_started_at else partner_started_at end
            as parent_started_at
    from linked

),

origin_linked as (

    -- The report names the first leg of each leg's transfer chain (call_id_origin): it links
    -- a leg no push links to a parent, because the push that carried the link was lost or the
    -- leg is known only to the report.
    select
        leg.central_id,
        leg.call_id,
        leg.leg_started_at,
        origin.call_id as partner_call_id,
        origin.leg_started_at as partner_started_at
    from reported_legs
    inner join known_legs as leg
        on reported_legs.central_id = leg.central_id and reported_legs.call_id = leg.call_id
    inner join known_legs as origin
        on
            reported_legs.central_id = origin.central_id
            and reported_legs.call_id_origin = origin.call_id
    where
        reported_legs.call_id_origin <> reported_legs.call_id
        and not exists (
            select 1 from pushed_edges
            where
                pushed_edges.central_id = reported_legs.central_id
                and pushed_edges.child_call_id = reported_legs.call_id
        )

),

origin_edges as (

    select
        central_id,
        case when {{ leg_is_parent }} then call_id else partner_call_id end as parent_call_id,
        case when {{ leg_is_parent }} then partner_call_id else call_id end as child_call_id,
        case when {{ leg_is_parent }} then leg_started_at else partner_started_at end
            as parent_started_at
    from origin_linked

),

edges as (

    select * from pushed_edges
    union all
    select * from origin_edges

)

-- Each edge carries its parent's start, so the journey walk needs no other model.
select distinct
    {{ surrogate_key(['central_id', 'parent_call_id', 'child_call_id']) }} as transfer_key,
    central_id,
    parent_call_id,
    child_call_id,
    parent_started_at
from edges
