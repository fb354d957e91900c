"""State from the dbt platform: pull finished job runs' artifacts into the state store.

``PlatformClient`` talks to the Administrative API v2 (list runs, download run artifacts) with retries;
``pull_runs`` ingests every new run oldest first and remembers the last run pulled. See docs/state.md.
"""

from freshlens.platform.client import DEFAULT_HOST, PlatformClient, PlatformError
from freshlens.platform.pull import PullReport, PullTarget, pull_runs

__all__ = ["DEFAULT_HOST", "PlatformClient", "PlatformError", "PullReport", "PullTarget", "pull_runs"]
