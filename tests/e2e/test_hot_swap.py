"""Hot swap: ``model.promoted`` swaps the detector on every replica without a restart; a bad
bundle leaves the old one serving; a replica that starts later loads what is in production."""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Site, create_site, ok, post_media
from tests.support.factories import Sites, Uploads
from tests.support.platform import RunningPlatform, admin_token, eventually, get_media, running
from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE, load_bundle, write_bundle
from wildlens.common.events import new_envelope
from wildlens.common.events.v1.inference_pb2 import (
    MODEL_KIND_DETECTOR,
    MODEL_SCOPE_GLOBAL,
    MODEL_SCOPE_PROJECT,
    ModelPromoted,
)
from wildlens.common.settings import Settings


def _version_of(tiny: Path, folder: Path, version: str) -> Path:
    """The tiny detector's weights under another version: a swap is visible in the results."""
    manifest = json.loads((tiny / MANIFEST_FILE).read_text())
    manifest.pop("sha256")
    manifest["version"] = version
    write_bundle(folder, tiny / MODEL_FILE, manifest)
    return folder


async def _upload_bundle(wl: RunningPlatform, bundle: Path, key: str) -> None:
    for name in (MODEL_FILE, MANIFEST_FILE):
        await wl.platform.store.put_file(f"{key}/{name}", bundle / name, "application/octet-stream")


async def _promote(
    wl: RunningPlatform, key: str, sha256: str, version: str, project_id: str | None = None
) -> None:
    event = ModelPromoted(
        name="tiny-detector",
        version=version,
        kind=MODEL_KIND_DETECTOR,
        scope=MODEL_SCOPE_PROJECT if project_id else MODEL_SCOPE_GLOBAL,
        project_id=project_id or "",
        bundle_key=key,
        sha256=sha256,
        promoted_by="ml-practitioner",
    )
    await wl.platform.bus.publish([new_envelope(event, producer="training@test")])


async def _serving(wl: RunningPlatform) -> list[dict[str, Any]]:
    ready = (await wl.client.get("/readyz")).json()
    return list(ready["services"]["inference"]["models"])


async def _serves(wl: RunningPlatform, version: str, scope: str = "global") -> bool:
    return any(m["version"] == version and m["scope"] == scope for m in await _serving(wl))


def _scene(seed: int) -> bytes:
    from tests.support.tiny_models import generate_scene

    buffer = io.BytesIO()
    generate_scene(400, 300, (0.3, 0.3, 0.4, 0.4), seed=seed).save(buffer, format="JPEG")
    return buffer.getvalue()


async def _analysed_by(wl: RunningPlatform, token: str, device_token: str, seed: int) -> str:
    posted = await ok(
        await post_media(wl.client, device_token, data=_scene(seed), filename=f"{seed}.jpg"), 202
    )

    async def analysed() -> dict[str, Any] | None:
        media = await get_media(wl.client, token, posted["media_id"])
        return media if media and media["status"] == "analyzed" else None

    media = await eventually(analysed, timeout=60)
    return str(media["analyses"][-1]["model_version"])


def _loads(metrics: str, outcome: str) -> float:
    match = re.search(
        rf'wildlens_inference_model_loads_total{{kind="detector",outcome="{outcome}"}} (\S+)',
        metrics,
    )
    return float(match.group(1)) if match else 0.0


@pytest.mark.tiny_detector
async def test_a_promoted_detector_serves_without_a_restart_and_in_flight_work_finishes(
    wl: RunningPlatform,
    admin: str,
    site: Site,
    upload: Uploads,
    tiny_detector: Path,
    tmp_path: Path,
) -> None:
    v2 = _version_of(tiny_detector, tmp_path / "v2", "0.2.0")
    assert await _analysed_by(wl, admin, site.device_token, seed=1) == "0.1.0"

    await _upload_bundle(wl, v2, "models/tiny-detector/0.2.0")
    # A backlog is in flight while the promotion arrives: every image is analysed once,
    # by one model or the other, and none is dropped or failed.
    posted = [
        await ok(
            await upload.post(data=_scene(100 + i), filename=f"b{i}.jpg"),
            202,
        )
        for i in range(6)
    ]
    await _promote(wl, "models/tiny-detector/0.2.0", load_bundle(v2).manifest.sha256, "0.2.0")
    await eventually(lambda: _serves(wl, "0.2.0"), timeout=60)

    async def all_analysed() -> list[dict[str, Any]] | None:
        media = [await get_media(wl.client, admin, p["media_id"]) for p in posted]
        done = [m for m in media if m and m["status"] == "analyzed"]
        return done if len(done) == len(posted) else None

    backlog = await eventually(all_analysed, timeout=60)
    for media in backlog:
        assert [a["failure"] for a in media["analyses"]] == [""]
        assert media["analyses"][0]["model_version"] in {"0.1.0", "0.2.0"}

    assert await _analysed_by(wl, admin, site.device_token, seed=2) == "0.2.0"
    metrics = (await wl.client.get("/metrics")).text
    assert 'version="0.2.0"' in metrics  # the info metric names the version now serving
    assert _loads(metrics, "ok") >= 1


@pytest.mark.tiny_detector
async def test_a_corrupt_bundle_is_refused_and_the_old_model_keeps_serving(
    wl: RunningPlatform, admin: str, site: Site, tiny_detector: Path, tmp_path: Path
) -> None:
    v3 = _version_of(tiny_detector, tmp_path / "v3", "0.3.0")
    promised = load_bundle(v3).manifest.sha256
    failed_before = _loads((await wl.client.get("/metrics")).text, "failed")

    # The ONNX file in storage is not the one the promotion and the manifest vouch for.
    await _upload_bundle(wl, v3, "models/tiny-detector/0.3.0")
    truncated = (v3 / MODEL_FILE).read_bytes()[:-100]
    await wl.platform.store.put_bytes(
        "models/tiny-detector/0.3.0/model.onnx", truncated, "application/octet-stream"
    )
    await _promote(wl, "models/tiny-detector/0.3.0", promised, "0.3.0")
    # A promotion naming a bundle that is not there at all.
    await _promote(wl, "models/tiny-detector/9.9.9", promised, "9.9.9")

    async def refused_twice() -> bool:
        metrics = (await wl.client.get("/metrics")).text
        return _loads(metrics, "failed") >= failed_before + 2

    await eventually(refused_twice, timeout=60)
    assert [m["version"] for m in await _serving(wl)] == ["0.1.0"]
    assert await _analysed_by(wl, admin, site.device_token, seed=3) == "0.1.0"


@pytest.mark.tiny_detector
async def test_a_project_model_serves_that_project_only(
    wl: RunningPlatform, admin: str, tiny_detector: Path, tmp_path: Path, new_site: Sites
) -> None:
    v4 = _version_of(tiny_detector, tmp_path / "v4", "0.4.0-herons")
    herons = await new_site(serial="CAM-A", name="Herons")
    others = await new_site(serial="CAM-B", name="Others")
    await _upload_bundle(wl, v4, "models/tiny-detector/0.4.0-herons")
    await _promote(
        wl,
        "models/tiny-detector/0.4.0-herons",
        load_bundle(v4).manifest.sha256,
        "0.4.0-herons",
        project_id=herons.project_id,
    )
    await eventually(lambda: _serves(wl, "0.4.0-herons", herons.project_id), timeout=60)
    versions = await asyncio.gather(
        _analysed_by(wl, admin, herons.device_token, seed=4),
        _analysed_by(wl, admin, others.device_token, seed=5),
    )
    assert list(versions) == ["0.4.0-herons", "0.1.0"]


async def test_a_replica_that_starts_later_loads_the_production_model(
    settings_for: Any, tiny_detector: Path, tmp_path: Path
) -> None:
    from wildlens.training.models import RegisteredModel

    settings = settings_for(detector=tiny_detector)
    v5 = _version_of(tiny_detector, tmp_path / "v5", "0.5.0")
    sha = load_bundle(v5).manifest.sha256
    async with running(settings) as wl:
        await _upload_bundle(wl, v5, "models/tiny-detector/0.5.0")
        training = wl.platform.contexts["training"]
        # The registry's production entry, as the training service records a promotion.
        async with training.db.transaction() as session:
            session.add(
                RegisteredModel(
                    name="tiny-detector",
                    version="0.5.0",
                    kind="detector",
                    bundle_key="models/tiny-detector/0.5.0",
                    sha256=sha,
                    stage="production",
                )
            )

    # Another replica starts after the promotion was broadcast: it never heard it.
    async with running(settings) as later:
        await eventually(lambda: _serves(later, "0.5.0"), timeout=60)
        admin = admin_token(settings)
        site = await create_site(later.client, admin)
        assert await _analysed_by(later, admin, site.device_token, seed=6) == "0.5.0"

    # Its disk cache is damaged while it is down: the copy fails its check on the next start,
    # is downloaded again, and the production model serves as before.
    cached = list((settings.data_dir / "model-cache").glob(f"*/{MODEL_FILE}"))
    assert len(cached) == 1
    cached[0].write_bytes(cached[0].read_bytes()[:-10])
    async with running(settings) as restarted:
        await eventually(lambda: _serves(restarted, "0.5.0"), timeout=60)
    assert load_bundle(cached[0].parent).manifest.version == "0.5.0"


async def test_without_a_global_detector_other_projects_media_stay_recorded(
    wl: RunningPlatform, settings: Settings, tiny_detector: Path, tmp_path: Path
) -> None:
    v6 = _version_of(tiny_detector, tmp_path / "v6", "0.6.0-herons")
    # Counted for the whole test process: what earlier tests consumed is left out.
    before = await _recorded_consumed(wl)
    admin = admin_token(settings)
    herons = await create_site(wl.client, admin, serial="CAM-H", name="Herons")
    others = await create_site(wl.client, admin, serial="CAM-O", name="Others")
    await _upload_bundle(wl, v6, "models/tiny-detector/0.6.0-herons")
    await _promote(
        wl,
        "models/tiny-detector/0.6.0-herons",
        load_bundle(v6).manifest.sha256,
        "0.6.0-herons",
        project_id=herons.project_id,
    )
    await eventually(lambda: _serves(wl, "0.6.0-herons", herons.project_id), timeout=60)
    waiting = await ok(
        await post_media(wl.client, others.device_token, data=_scene(7), filename="o.jpg"), 202
    )
    assert await _analysed_by(wl, admin, herons.device_token, seed=8) == "0.6.0-herons"

    async def consumed_both() -> bool:
        return await _recorded_consumed(wl) >= before + 2

    await eventually(consumed_both, timeout=60)
    media = await get_media(wl.client, admin, waiting["media_id"])
    assert media is not None
    assert media["status"] == "recorded"
    assert media["analyses"] == []


async def _recorded_consumed(wl: RunningPlatform) -> float:
    metrics = (await wl.client.get("/metrics")).text
    match = re.search(
        r'wildlens_events_consumed_total\{event_type="media.recorded",service="inference"\} (\S+)',
        metrics,
    )
    return float(match.group(1)) if match else 0.0
