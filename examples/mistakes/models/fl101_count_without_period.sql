{{ config(freshness={'build_after': {'count': 4}}) }}

select 1 as id
