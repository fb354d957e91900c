def model(dbt, session):
    """Orders per customer, as a Python model (dbt-duckdb runs it in-process)."""
    dbt.config(materialized="table")
    orders = dbt.ref("stg_orders")
    return orders.aggregate("customer_id, count(*) as n_orders", "customer_id")
