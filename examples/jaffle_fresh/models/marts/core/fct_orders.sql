{{
    config(
        materialized='incremental',
        unique_key='order_id',
        freshness={'build_after': {'count': 1, 'period': 'hour', 'updates_on': 'any'}}
    )
}}

select
    o.order_id,
    o.customer_id,
    o.order_date,
    o.status,
    coalesce(p.amount_cents, 0) as amount_cents,
    o.loaded_at
from {{ ref('stg_orders') }} as o
left join {{ ref('int_order_payments') }} as p
    on o.order_id = p.order_id
{% if is_incremental() %}
where o.loaded_at > (select max(loaded_at) from {{ this }})
{% endif %}
