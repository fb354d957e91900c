select
    order_id,
    customer_id,
    event_type,
    occurred_at
from {{ source('jaffle_events', 'events_v') }}
