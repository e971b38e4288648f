"""The model registry: a bundle a user brings is checked, stored and registered; a platform admin
(or a project's manager, for that project's model) promotes it, every inference replica swaps
to it, and its stage history says who did what."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import bearer, ok
from tests.support.factories import Tokens, project_roles
from tests.support.model_bundles import (
    finished_upload,
    manifest_of,
    post_bundle,
    post_files,
    renamed,
    upload_files,
)
from tests.support.platform import RunningPlatform, SettingsFactory, eventually, running, with_group
from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE
from wildlens.training.settings import TrainingSettings


async def _serving(wl: RunningPlatform) -> list[dict[str, Any]]:
    ready = (await wl.client.get("/readyz")).json()
    return list(ready["services"]["inference"]["models"])


async def _stored(wl: RunningPlatform) -> list[str]:
    return [info.key for info in await wl.platform.store.list("models/")]


async def _promote(wl: RunningPlatform, token: str, model_id: str) -> Any:
    return await wl.client.post(f"/v1/models/{model_id}/promote", headers=bearer(token))


def _changes(model: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    return [(c["from_stage"], c["to_stage"], c["changed_by"]) for c in model["history"]]


async def test_a_bundle_a_user_brings_serves_once_an_admin_promotes_it(
    wl: RunningPlatform, admin: str, tiny_detector: Path, tmp_path: Path
) -> None:
    first = renamed(tiny_detector, tmp_path / "a", version="2.0.0", name="brought")
    second = renamed(tiny_detector, tmp_path / "b", version="2.1.0", name="brought")

    registered = await ok(await post_bundle(wl.client, admin, first), 201)
    assert registered["stage"] == "registered"
    assert registered["source"] == "external"
    assert registered["registered_by"] == "admin"
    assert registered["bundle_key"] == "models/brought/2.0.0"
    assert registered["sha256"] == manifest_of(first)["sha256"]
    assert registered["size_bytes"] == (first / MODEL_FILE).stat().st_size
    assert _changes(registered) == [(None, "registered", "admin")]
    assert sorted(await _stored(wl)) == [
        "models/brought/2.0.0/model.onnx",
        "models/brought/2.0.0/wildlens-model.json",
    ]
    assert (
        await wl.platform.store.get_bytes("models/brought/2.0.0/model.onnx")
        == (first / MODEL_FILE).read_bytes()
    )
    # Registered is not serving.
    assert not any(m["name"] == "brought" for m in await _serving(wl))

    promoted = await ok(await _promote(wl, admin, registered["id"]), 200)
    assert promoted["stage"] == "production"
    assert _changes(promoted) == [
        (None, "registered", "admin"),
        ("registered", "production", "admin"),
    ]

    async def serves(version: str) -> bool:
        return any(
            (m["name"], m["version"], m["scope"]) == ("brought", version, "global")
            for m in await _serving(wl)
        )

    await eventually(lambda: serves("2.0.0"), timeout=60)
    listed = await ok(
        await wl.client.get("/v1/models?stage=production", headers=bearer(admin)), 200
    )
    assert [m["version"] for m in listed["items"]] == ["2.0.0"]

    # The next one replaces it: the first is archived, its history says by whom and why.
    newer = await ok(await post_bundle(wl.client, admin, second), 201)
    await ok(await _promote(wl, admin, newer["id"]), 200)
    await eventually(lambda: serves("2.1.0"), timeout=60)
    old = await ok(
        await wl.client.get(f"/v1/models/{registered['id']}", headers=bearer(admin)), 200
    )
    assert old["stage"] == "archived"
    assert _changes(old)[-1] == ("production", "archived", "admin")
    assert old["history"][-1]["reason"] == "replaced by brought 2.1.0"

    # Promoting it again brings it back (a rollback), recorded like any promotion.
    back = await ok(await _promote(wl, admin, registered["id"]), 200)
    assert _changes(back)[-1] == ("archived", "production", "admin")
    await eventually(lambda: serves("2.0.0"), timeout=60)


@pytest.mark.services("training")
async def test_admins_promote_global_models_and_managers_their_projects_own(
    wl: RunningPlatform, admin: str, token_for: Tokens, tiny_detector: Path, tmp_path: Path
) -> None:
    herons, manager, viewer, stranger = project_roles(token_for)
    own = renamed(tiny_detector, tmp_path / "own", version="1.0.0", name="heron-detector")
    shared = renamed(tiny_detector, tmp_path / "shared", version="1.0.0", name="global-detector")

    # Registering: a project's manager for the project; a global model needs a platform admin.
    refused = await post_bundle(wl.client, viewer, own, project_id=herons)
    assert refused.status_code == 403, refused.text
    refused = await post_bundle(wl.client, manager, shared)
    assert refused.status_code == 403, refused.text
    assert "platform admin" in refused.json()["detail"]
    project_model = await ok(await post_bundle(wl.client, manager, own, project_id=herons), 201)
    assert project_model["project_id"] == herons
    global_model = await ok(await post_bundle(wl.client, admin, shared), 201)

    # Promoting the project's model: its viewer may not; another project's manager does not
    # even see it; its manager may.
    assert (await _promote(wl, viewer, project_model["id"])).status_code == 403
    assert (await _promote(wl, stranger, project_model["id"])).status_code == 404
    assert (
        await wl.client.get(f"/v1/models/{project_model['id']}", headers=bearer(stranger))
    ).status_code == 404
    promoted = await ok(await _promote(wl, manager, project_model["id"]), 200)
    assert _changes(promoted)[-1] == ("registered", "production", "manager-h")

    # The global model: no project's manager may promote it; a platform admin may.
    for token in (manager, stranger):
        refused = await _promote(wl, token, global_model["id"])
        assert refused.status_code == 403, refused.text
    promoted = await ok(await _promote(wl, admin, global_model["id"]), 200)
    assert _changes(promoted)[-1] == ("registered", "production", "admin")

    # Each scope keeps its own production model.
    seen = await ok(
        await wl.client.get("/v1/models?stage=production", headers=bearer(manager)), 200
    )
    assert sorted(m["name"] for m in seen["items"]) == ["global-detector", "heron-detector"]
    seen = await ok(await wl.client.get("/v1/models", headers=bearer(stranger)), 200)
    assert [m["name"] for m in seen["items"]] == ["global-detector"]


@pytest.mark.services("training")
async def test_a_bundle_that_does_not_check_out_is_refused_and_nothing_is_stored(
    wl: RunningPlatform, admin: str, tiny_detector: Path, tmp_path: Path
) -> None:
    bundle = renamed(tiny_detector, tmp_path / "b", version="3.0.0", name="checked")
    onnx = (bundle / MODEL_FILE).read_bytes()
    manifest = manifest_of(bundle)

    def with_fields(**changes: Any) -> bytes:
        return json.dumps({**manifest, **changes}).encode()

    # The model is not the one the manifest vouches for.
    wrong_hash = await post_files(wl.client, admin, onnx, with_fields(sha256="0" * 64))
    assert wrong_hash.status_code == 422, wrong_hash.text
    assert "does not match its manifest" in wrong_hash.json()["detail"]
    assert ["file", MANIFEST_FILE, "sha256"] in [f["location"] for f in wrong_hash.json()["fields"]]

    # A truncated export, and a JPEG sent as the model, each with its own hash in the manifest.
    truncated = await post_files(
        wl.client, admin, onnx[:-1], with_fields(sha256=hashlib.sha256(onnx[:-1]).hexdigest())
    )
    assert truncated.status_code == 422, truncated.text
    assert "past the end of the file" in truncated.json()["detail"]
    jpeg = b"\xff\xd8\xff\xe0" + bytes(2000)
    not_onnx = await post_files(
        wl.client, admin, jpeg, with_fields(sha256=hashlib.sha256(jpeg).hexdigest())
    )
    assert not_onnx.status_code == 422, not_onnx.text
    assert "is not an ONNX model" in not_onnx.json()["detail"]

    # A manifest that breaks the schema: a typo, a detector without a decoder.
    typo = await post_files(wl.client, admin, onnx, with_fields(treshold=0.3))
    assert typo.status_code == 422, typo.text
    assert ["file", MANIFEST_FILE, "treshold"] in [f["location"] for f in typo.json()["fields"]]
    broken = dict(manifest)
    broken.pop("decoder")
    no_decoder = await post_files(wl.client, admin, onnx, json.dumps(broken).encode())
    assert no_decoder.status_code == 422
    assert "a detector needs a decoder" in no_decoder.json()["detail"]
    not_json = await post_files(wl.client, admin, onnx, b"{name: x")
    assert not_json.status_code == 422
    assert "is not valid JSON" in not_json.json()["detail"]
    # A name that would be a path in storage.
    escaping = await post_files(wl.client, admin, onnx, with_fields(name="../media"))
    assert escaping.status_code == 422, escaping.text

    assert await _stored(wl) == []
    assert (await ok(await wl.client.get("/v1/models", headers=bearer(admin)), 200))["items"] == []

    # The same name and version twice: the second is refused and the first stays whole.
    await ok(await post_bundle(wl.client, admin, bundle), 201)
    conflict = await post_bundle(wl.client, admin, bundle)
    assert conflict.status_code == 409, conflict.text
    assert "checked 3.0.0 is registered already" in conflict.json()["detail"]
    assert await wl.platform.store.get_bytes("models/checked/3.0.0/model.onnx") == onnx
    listed = await ok(await wl.client.get("/v1/models", headers=bearer(admin)), 200)
    assert [m["version"] for m in listed["items"]] == ["3.0.0"]


async def test_a_model_larger_than_the_platform_accepts_is_refused(
    settings_for: SettingsFactory, tiny_detector: Path, tmp_path: Path
) -> None:
    from tests.support.platform import admin_token

    bundle = renamed(tiny_detector, tmp_path / "big", version="4.0.0", name="big")
    size = (bundle / MODEL_FILE).stat().st_size
    settings = with_group(settings_for(), TrainingSettings, max_model_bytes=size - 1)
    async with running(settings, ["training"]) as wl:
        admin = admin_token(settings)
        refused = await post_bundle(wl.client, admin, bundle)
        assert refused.status_code == 413, refused.text
        assert "larger than this platform accepts" in refused.json()["detail"]
        assert await _stored(wl) == []
        listed = await ok(await wl.client.get("/v1/models", headers=bearer(admin)), 200)
        assert listed["items"] == []


async def test_a_bundle_over_the_request_limit_goes_through_a_model_upload_instead(
    settings_for: SettingsFactory, tiny_detector: Path, tmp_path: Path
) -> None:
    from tests.support.platform import admin_token

    bundle = renamed(tiny_detector, tmp_path / "large", version="6.0.0", name="large")
    onnx = (bundle / MODEL_FILE).read_bytes()
    base = settings_for()
    # One request may carry less than this bundle; the registry itself takes it whole.
    settings = base.model_copy(
        update={"limits": base.limits.model_copy(update={"upload_bytes": len(onnx) // 2})}
    )
    async with running(settings, ["training"]) as wl:
        admin = admin_token(settings)
        refused = await post_bundle(wl.client, admin, bundle)
        assert refused.status_code == 413, refused.text
        detail = refused.json()["detail"]
        assert "WILDLENS_LIMITS__UPLOAD_BYTES" in detail
        assert "POST /v1/models/uploads" in detail
        assert await _stored(wl) == []

        opened = await upload_files(
            wl.client,
            settings.public_url,
            admin,
            onnx,
            (bundle / MANIFEST_FILE).read_bytes(),
            None,
        )
        done = await finished_upload(wl.client, admin, opened["id"])
        assert done["status"] == "succeeded", done
        model = await ok(
            await wl.client.get(f"/v1/models/{done['model_id']}", headers=bearer(admin)), 200
        )
        assert (model["name"], model["version"], model["size_bytes"]) == (
            "large",
            "6.0.0",
            len(onnx),
        )
