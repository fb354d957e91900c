select
    o.order_date,
    count(p.payment_id) as n_payments,
    sum(p.amount_cents) as amount_cents
from {{ ref('stg_payments') }} as p
inner join {{ ref('stg_orders') }} as o
    on p.order_id = o.order_id
group by o.order_date
