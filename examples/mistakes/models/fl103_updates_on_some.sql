{{ config(freshness={'build_after': {'count': 4, 'period': 'hour', 'updates_on': 'some'}}) }}

select 1 as id
