select
    order_date,
    count(*) as n_orders,
    sum(amount_cents) as amount_cents
from {{ ref('fct_orders') }}
group by order_date
