select
    id as customer_id,
    first_name,
    last_name,
    _loaded_at as loaded_at
from {{ source('jaffle', 'customers') }}
