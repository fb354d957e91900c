select 1 as id, current_timestamp as loaded_at
