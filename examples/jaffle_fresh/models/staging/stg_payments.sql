select
    p.id as payment_id,
    p.order_id,
    p.payment_method,
    m.category as payment_category,
    p.amount_cents,
    p._loaded_at as loaded_at
from {{ source('jaffle', 'payments') }} as p
left join {{ ref('payment_methods') }} as m
    on p.payment_method = m.payment_method
