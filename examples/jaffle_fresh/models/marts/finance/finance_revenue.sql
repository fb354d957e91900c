select
    payment_category,
    sum(amount_cents) as revenue_cents
from {{ ref('stg_payments') }}
group by payment_category
