"""The tiny detector, trained once per session and kept in pytest's cache between runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tiny_models import build_tiny_detector


@pytest.fixture(scope="session")
def tiny_detector_dir(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    cache = getattr(request.config, "cache", None)
    # With the cache plugin off (-p no:cacheprovider) the model is rebuilt in a temp folder.
    folder = cache.mkdir("tiny-detector") if cache is not None else tmp_path_factory.mktemp("tiny")
    return build_tiny_detector(Path(folder))
