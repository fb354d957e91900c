"""State from the dbt platform: pull finished job runs' artifacts into the state store.

``client.PlatformClient`` talks to the Administrative API v2 (list runs, download run artifacts) with
retries; ``pull.pull_runs`` ingests every new run oldest first and remembers the last run pulled;
``discovery`` reads an environment's source freshness. See docs/state.md.

The package itself imports nothing: the CLI builds its argument parser from ``command`` on every
start, and the HTTP client (httpx) is loaded only by the commands that talk to the platform.
"""

DEFAULT_HOST = "https://cloud.getdbt.com"
