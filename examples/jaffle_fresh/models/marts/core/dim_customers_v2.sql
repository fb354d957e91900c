select
    c.customer_id,
    c.first_name,
    c.last_name,
    count(f.order_id) as n_orders,
    coalesce(sum(f.amount_cents), 0) as lifetime_value_cents
from {{ ref('stg_customers') }} as c
left join {{ ref('fct_orders') }} as f
    on c.customer_id = f.customer_id
group by c.customer_id, c.first_name, c.last_name
