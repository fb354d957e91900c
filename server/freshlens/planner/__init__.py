"""Predict, per model, what the next state-aware run does — build, reuse, no-op or unknown — and why.

Where a change goes:

* ``core``        — the inputs the planner reads, the ``Decision`` it returns and its explanation text
* ``code_change`` — did the model's code change since its last build (both regimes)
* ``sao``         — the SAO regime's rules (spec sao.md D1–D19)
* ``dbt_state``   — dbt State's rules (spec dbt-state.md R1–R22)
* ``plan``        — the DAG walk that applies one regime to every model
* ``gather``      — the I/O edge: reads the state, current freshness and the clock, then plans
"""
