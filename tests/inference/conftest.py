"""The inference tests use the session's tiny detector (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_detector_dir(tiny_detector: Path) -> Path:
    return tiny_detector
