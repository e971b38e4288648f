"""Backfills: a manager has a project's existing media analysed again (``inference.requested``)."""

from __future__ import annotations

import io
import json
from functools import partial
from pathlib import Path

import pytest

from tests.support.api import Site, bearer, create_site, ok, post_media
from tests.support.factories import Sites, Uploads
from tests.support.platform import (
    RunningPlatform,
    SettingsFactory,
    admin_token,
    eventually,
    get_media,
    running,
    user_token,
    with_group,
)
from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE, load_bundle, write_bundle
from wildlens.common.settings import Settings
from wildlens.inference.settings import InferenceSettings


def _scene(seed: int) -> bytes:
    from tests.support.tiny_models import generate_scene

    buffer = io.BytesIO()
    generate_scene(400, 300, (0.2, 0.3, 0.5, 0.4), seed=seed).save(buffer, format="JPEG")
    return buffer.getvalue()


async def _register_candidate(wl: RunningPlatform, tiny: Path, folder: Path, version: str) -> None:
    """A detector in the training registry (not in production) with its bundle in storage."""
    from wildlens.training.models import RegisteredModel

    manifest = json.loads((tiny / MANIFEST_FILE).read_text())
    manifest.pop("sha256")
    manifest["version"] = version
    bundle = write_bundle(folder, tiny / MODEL_FILE, manifest)
    key = f"models/tiny-detector/{version}"
    for name in (MODEL_FILE, MANIFEST_FILE):
        await wl.platform.store.put_file(f"{key}/{name}", folder / name, "application/octet-stream")
    async with wl.platform.contexts["training"].db.transaction() as session:
        session.add(
            RegisteredModel(
                name="tiny-detector",
                version=version,
                kind="detector",
                bundle_key=key,
                sha256=load_bundle(bundle.root).manifest.sha256,
                stage="candidate",
            )
        )


async def _versions(wl: RunningPlatform, token: str, media_id: str) -> list[str] | None:
    media = await get_media(wl.client, token, media_id)
    if not media or media["status"] != "analyzed":
        return None
    return sorted(a["model_version"] for a in media["analyses"])


@pytest.mark.tiny_detector
async def test_a_backfill_reanalyses_the_chosen_deployment_and_time_range_with_a_named_model(
    wl: RunningPlatform,
    settings: Settings,
    admin: str,
    site: Site,
    upload: Uploads,
    tiny_detector: Path,
    tmp_path: Path,
) -> None:
    taken = {
        "early": "2021-03-30T08:00:00+01:00",
        "inside-1": "2021-04-02T08:00:00+01:00",
        "inside-2": "2021-04-03T21:15:00+01:00",
        "late": "2021-04-12T08:00:00+01:00",
    }
    media: dict[str, str] = {}
    for seed, (name, when) in enumerate(taken.items()):
        posted = await ok(
            await upload.post(
                data=_scene(seed),
                filename=f"{name}.jpg",
                fields={"captured_at": when},
            ),
            202,
        )
        media[name] = posted["media_id"]
    for media_id in media.values():
        assert await eventually(partial(_versions, wl, admin, media_id), timeout=60) == ["0.1.0"]

    await _register_candidate(wl, tiny_detector, tmp_path / "candidate", "0.2.0-candidate")
    manager = user_token(settings, "manager", {site.project_id: "manager"})
    accepted = await ok(
        await wl.client.post(
            "/v1/predict/backfills",
            json={
                "project_id": site.project_id,
                "deployment_id": site.deployment_id,
                "captured_from": "2021-04-01T00:00:00+01:00",
                "captured_to": "2021-04-05T00:00:00+01:00",
                "model_name": "tiny-detector",
                "model_version": "0.2.0-candidate",
            },
            headers=bearer(manager),
        ),
        202,
    )
    assert accepted["project_id"] == site.project_id

    for name in ("inside-1", "inside-2"):
        versions = await eventually(
            partial(_both, wl, admin, media[name]),
            timeout=60,
        )
        assert versions == ["0.1.0", "0.2.0-candidate"]
    # The backfill is finished once the range is done; what lies outside kept one analysis.
    for name in ("early", "late"):
        assert await _versions(wl, admin, media[name]) == ["0.1.0"]
    # The candidate analysed the backfill only; the production detector still serves.
    ready = (await wl.client.get("/readyz")).json()["services"]["inference"]
    assert ready["detector"]["version"] == "0.1.0"


async def _both(wl: RunningPlatform, token: str, media_id: str) -> list[str] | None:
    versions = await _versions(wl, token, media_id)
    return versions if versions and len(versions) == 2 else None


async def test_a_backfill_analyses_media_recorded_before_any_detector_served(
    settings_for: SettingsFactory, tiny_detector: Path, tmp_path: Path
) -> None:
    # Two media per message: the three media take two deliveries, the second one handed on.
    settings = with_group(settings_for(), InferenceSettings, backfill_page=2)
    async with running(settings) as wl:
        admin = admin_token(settings)
        site = await create_site(wl.client, admin)
        # Media arrive while no detector serves: they stay recorded.
        ids = [
            (
                await ok(
                    await post_media(
                        wl.client,
                        site.device_token,
                        data=_scene(10 + i),
                        filename=f"{i}.jpg",
                        fields={"captured_at": f"2021-04-0{i + 1}T10:00:00+01:00"},
                    ),
                    202,
                )
            )["media_id"]
            for i in range(3)
        ]
        for media_id in ids:
            recorded = await eventually(partial(get_media, wl.client, admin, media_id))
            assert recorded["status"] == "recorded"

        # Without a detector a backfill of "the current model" has nothing to run.
        response = await wl.client.post(
            "/v1/predict/backfills", json={"project_id": site.project_id}, headers=bearer(admin)
        )
        assert response.status_code == 409
        assert "no detector serves" in response.json()["detail"]
        await _register_candidate(wl, tiny_detector, tmp_path / "named", "0.3.0")
        await ok(
            await wl.client.post(
                "/v1/predict/backfills",
                json={"project_id": site.project_id, "model_name": "tiny-detector"},
                headers=bearer(admin),
            ),
            202,
        )
        for media_id in ids:
            assert await eventually(partial(_versions, wl, admin, media_id), timeout=60) == [
                "0.3.0"
            ]


async def test_backfill_requests_are_for_managers_and_must_make_sense(
    wl: RunningPlatform, settings: Settings, admin: str, site: Site, new_site: Sites
) -> None:
    other = await new_site(serial="OTHER-CAM", name="Other")
    url = "/v1/predict/backfills"

    viewer = user_token(settings, "viewer", {site.project_id: "annotator"})
    response = await wl.client.post(
        url, json={"project_id": site.project_id}, headers=bearer(viewer)
    )
    assert response.status_code == 403
    assert "manager" in response.json()["detail"]

    outsider = user_token(settings, "outsider", {other.project_id: "admin"})
    response = await wl.client.post(
        url, json={"project_id": site.project_id}, headers=bearer(outsider)
    )
    assert response.status_code == 404

    response = await wl.client.post(
        url, json={"project_id": site.project_id}, headers=bearer(site.device_token)
    )
    assert response.status_code == 403

    h = bearer(admin)
    wrong_deployment = await wl.client.post(
        url,
        json={"project_id": site.project_id, "deployment_id": other.deployment_id},
        headers=h,
    )
    assert wrong_deployment.status_code == 422
    assert "deployment_id" in wrong_deployment.json()["detail"]

    backwards = await wl.client.post(
        url,
        json={
            "project_id": site.project_id,
            "captured_from": "2021-04-05T00:00:00Z",
            "captured_to": "2021-04-01T00:00:00Z",
        },
        headers=h,
    )
    assert backwards.status_code == 422
    assert "captured_to must be later" in backwards.json()["detail"]

    naive = await wl.client.post(
        url,
        json={"project_id": site.project_id, "captured_from": "2021-04-05T00:00:00"},
        headers=h,
    )
    assert naive.status_code == 422

    unknown = await wl.client.post(
        url, json={"project_id": site.project_id, "model_name": "megadetector"}, headers=h
    )
    assert unknown.status_code == 422
    assert "not in the model registry" in unknown.json()["detail"]

    version_alone = await wl.client.post(
        url, json={"project_id": site.project_id, "model_version": "5.0a"}, headers=h
    )
    assert version_alone.status_code == 422
    assert "model_version needs model_name" in version_alone.json()["detail"]
