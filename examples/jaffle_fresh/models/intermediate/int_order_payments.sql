-- Ephemeral (see dbt_project.yml): inlined into the models that ref it.
select
    order_id,
    sum(amount_cents) as amount_cents,
    count(*) as n_payments
from {{ ref('stg_payments') }}
group by order_id
