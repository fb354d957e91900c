select
    id as order_id,
    customer_id,
    order_date,
    status,
    _loaded_at as loaded_at
from {{ source('jaffle', 'orders') }}
