"""A replica whose configured classifier cannot be loaded refuses to start, and leaves nothing
running behind it: no background task, no decode thread, no open database."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from tests.support.platform import embedded_settings, running, with_group
from wildlens.inference.models import BundleError
from wildlens.inference.settings import InferenceSettings


async def test_a_bad_classifier_stops_the_start_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    settings = with_group(
        embedded_settings(tmp_path / "data"),
        InferenceSettings,
        classifier=tmp_path / "no-such-classifier",
    )
    before = asyncio.all_tasks()

    with pytest.raises(BundleError, match="no-such-classifier"):
        async with running(settings, ["catalogue", "inference"]):
            pytest.fail("the platform started with a classifier that cannot load")

    # The catalogue had started its workers before inference failed: they are stopped too.
    assert asyncio.all_tasks() - before == set()
    assert not [t for t in threading.enumerate() if t.name.startswith("inference-decode")]
