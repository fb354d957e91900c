from __future__ import annotations

from pathlib import Path

import pytest
from state_helpers import ARTIFACTS


@pytest.fixture
def artifacts() -> Path:
    return ARTIFACTS
