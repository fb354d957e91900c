"""Hypothesis profiles for the fuzz tests: "ci" (default, a short run) and "long" (see docs/fuzzing.md).

FRESHLENS_FUZZ=long selects the long profile; FRESHLENS_FUZZ_EXAMPLES sets its examples per test.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Timing is asserted by the tests themselves (fuzzkit.BOUND_S): hypothesis' per-example deadline
# would flake on a shared 2-core machine. Seeds are big files, hence the health-check relaxations.
_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
}
# "ci" is derandomized: the same cases every run, so a red CI means a change broke something, never
# that the dice found an old bug; the long run (and FRESHLENS_FUZZ=ci-random) explores.
settings.register_profile("ci", max_examples=60, database=None, derandomize=True, **_COMMON)
settings.register_profile("ci-random", max_examples=60, database=None, **_COMMON)
settings.register_profile(
    "long", max_examples=int(os.environ.get("FRESHLENS_FUZZ_EXAMPLES", "20000")), **_COMMON
)
settings.load_profile(os.environ.get("FRESHLENS_FUZZ", "ci"))
