"""``freshlens run``: turn the plan into a run of the user's own dbt.

Where a change goes:

* ``dbt``       — finding the user's dbt, its version, running it
* ``selection`` — the nodes to build as exact dbt selectors (and why not ``selectors.yml``), ``dbt ls``
* ``run``       — the run itself: refresh, plan, build, ingest, record the reused models
* ``command``   — the CLI: arguments and the summary (text or JSON)
"""
