{{ config(materialized='incremental', state={'pre_clone': 'sometimes'}) }}

select 1 as id
