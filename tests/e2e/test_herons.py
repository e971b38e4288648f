"""The herons: a detector overfitted on the ten real heron images finds each heron through the
whole pipeline (gateway upload → ingest → catalogue → inference → catalogue), its box mapped
back from the letterboxed model input to the image within IoU 0.5 of the Camtrap DP box."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import DATA
from tests.support.api import Site
from tests.support.factories import Uploads
from tests.support.heron_detector import build_heron_detector, heron_boxes
from tests.support.platform import RunningPlatform, eventually, get_media


@pytest.fixture
def detector(heron_detector: Path) -> Path:
    """A detector trained on the example's herons."""
    return heron_detector


@pytest.fixture(scope="session")
def heron_detector(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Trained once, then kept in pytest's cache between runs (like the tiny detector)."""
    cache = getattr(request.config, "cache", None)
    folder = (
        cache.mkdir("heron-detector") if cache is not None else tmp_path_factory.mktemp("heron")
    )
    return build_heron_detector(Path(folder), DATA)


def _iou(a: list[float], b: tuple[float, float, float, float]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


async def test_every_heron_is_found_where_the_camtrap_dp_example_says_it_is(
    wl: RunningPlatform, admin: str, site: Site, upload: Uploads
) -> None:
    truth = heron_boxes(DATA)
    assert len(truth) == 10
    uploaded = {name: (await upload(DATA / "media" / name))["media_id"] for name in sorted(truth)}

    async def analysed(media_id: str) -> dict[str, Any] | None:
        media = await get_media(wl.client, admin, media_id)
        return media if media and media["status"] == "analyzed" else None

    for name, media_id in uploaded.items():
        media = await eventually(partial(analysed, media_id), timeout=90)
        assert media["deployment_id"] == site.deployment_id
        assert [a["model_name"] for a in media["analyses"]] == ["heron-detector"]
        animals = [o for o in media["observations"] if o["category"] == "animal"]
        assert animals, f"no animal found in {name}"
        best = max(animals, key=lambda o: o["confidence"])
        assert _iou(best["bbox"], truth[name]) >= 0.5, (name, best["bbox"], truth[name])
