select id from {{ source('nope', 'x') }}
