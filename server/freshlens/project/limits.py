"""What freshlens is willing to analyse, and why. Every limit is a named constant here.

A file beyond a limit is not analysed; it gets an FL011 warning saying which limit and why, so a
skipped file is never reported as clean. Each limit is far above what a real dbt project holds and
low enough that the file is answered in well under a second.
"""

from __future__ import annotations

# A dbt project file (model, properties YAML, dbt_project.yml) above 5 MB is generated data, not
# hand-written config; reading and parsing 5 MB takes about 0.3 s, so the worst case stays bounded.
MAX_FILE_BYTES = 5 * 1024 * 1024

# Brackets nested inside one Jinja block (config({'a': {'a': …}}), ref(((…)))) and YAML
# collections nested in one document. Hand-written configs nest fewer than 10 levels; the readers
# recurse once per level, so 100 keeps them far below Python's recursion limit (1,000 frames) and
# makes any further walk of the tree safe. Jinja's own parser (and so dbt) fails near 300 levels.
MAX_NESTING = 100

# YAML aliases share one node; a walk over the tree visits it once per alias. A few lines of
# aliases-of-aliases ("billion laughs") expand to billions of nodes. 1,000,000 expanded nodes is
# about 100 times the largest real properties file we have measured (10,000 models, ~60,000 nodes).
MAX_YAML_NODES = 1_000_000

# Wall-clock budget for parsing one file. The readers are linear in the file size, so this only
# trips on hostile input (or a very slow machine); it keeps one file from stalling the editor.
MAX_PARSE_SECONDS = 2.0


class LimitExceeded(Exception):
    """Raised inside a reader when input goes beyond one of the limits above (never escapes the core)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
