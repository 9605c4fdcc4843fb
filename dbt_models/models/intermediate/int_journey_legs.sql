{{ config(materialized='table') }}

with recursive

edges as (

    select * from {{ ref('int_transfer_edges') }}

),

roots as (

    select distinct
        edges.central_id,
        edges.parent_call_id as call_id,
        edges.parent_started_at as leg_started_at
    from edges
    where not exists (
        select 1 from edges as incoming
        where
            incoming.central_id = edges.central_id
            and incoming.child_call_id = edges.parent_call_id
    )

),

walk as (

    select
        central_id,
        call_id as root_call_id,
        call_id,
        0 as leg_depth,
        cast('|' || call_id || '|' as {{ dbt.type_string() }}) as visited_path
    from roots

    union all

    select
        walk.central_id,
        walk.root_call_id,
        edges.child_call_id as call_id,
        walk.leg_depth + 1 as leg_depth,
        cast(walk.visited_path || edges.child_call_id || '|' as {{ dbt.type_string() }}) as visited_path
    from walk
    inner join edges
        on
            walk.central_id = edges.central_id
            and walk.call_id = edges.parent_call_id
    -- Cycle guard: never revisit a leg on the same path, and bound the depth.
    where
        walk.leg_depth < {{ var('max_journey_depth') }}
        and position('|' || edges.child_call_id || '|' in walk.visited_path) = 0

),

ranked_roots as (

    -- A leg reachable from two roots joins the journey of the oldest root.
    select
        walk.central_id,
        walk.call_id,
        walk.root_call_id,
        walk.leg_depth,
        row_number() over (
            partition by walk.central_id, walk.call_id
            order by root_times.leg_started_at, walk.root_call_id, walk.leg_depth
        ) as root_preference
    from walk
    inner join roots as root_times
        on
            walk.central_id = root_times.central_id
            and walk.root_call_id = root_times.call_id

)

select
    {{ surrogate_key(['ranked_roots.central_id', 'ranked_roots.call_id']) }} as call_key,
    ranked_roots.central_id,
    ranked_roots.call_id,
    ranked_roots.root_call_id as journey_id,
    ranked_roots.leg_depth as journey_depth,
    ranked_roots.leg_depth > 0 as is_transfer_in,
    exists(
        select 1 from edges
        where
            edges.central_id = ranked_roots.central_id
            and edges.parent_call_id = ranked_roots.call_id
    ) as has_transfer_out
from ranked_roots
where ranked_roots.root_preference = 1
