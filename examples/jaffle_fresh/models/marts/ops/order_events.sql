{% set lag_tolerance = var('ops_lag_tolerance', '1h') %}
{{ config(state={'lag_tolerance': lag_tolerance, 'require_fresh_data_from': 'all'}) }}

select
    e.order_id,
    o.status,
    count(*) as n_events,
    max(e.occurred_at) as last_event_at
from {{ ref('stg_events') }} as e
inner join {{ ref('stg_orders') }} as o
    on e.order_id = o.order_id
group by e.order_id, o.status
