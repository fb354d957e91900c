{{ config(state={'lag_tolerance': '1H'}) }}

select 1 as id
