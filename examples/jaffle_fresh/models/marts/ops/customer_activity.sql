select
    d.customer_id,
    d.lifetime_value_cents,
    max(e.occurred_at) as last_event_at
from {{ ref('dim_customers') }} as d
left join {{ ref('stg_events') }} as e
    on d.customer_id = e.customer_id
group by d.customer_id, d.lifetime_value_cents
