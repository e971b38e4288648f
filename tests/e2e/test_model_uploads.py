"""Model bundles of any size go through PUT URLs: opened with the files' sizes, PUT straight to
object storage, completed, then checked and registered by a job outside any request, exactly
as ``POST /v1/models`` would register them; whatever happens, nothing staged stays behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import bearer, ok
from tests.support.factories import Tokens, project_roles
from tests.support.model_bundles import (
    finished_upload,
    manifest_of,
    open_upload,
    put_signed,
    renamed,
    upload_files,
)
from tests.support.platform import (
    RunningPlatform,
    SettingsFactory,
    admin_token,
    eventually,
    running,
    with_group,
)
from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE
from wildlens.training.settings import TrainingSettings


async def _keys(wl: RunningPlatform, prefix: str) -> list[str]:
    return sorted(info.key for info in await wl.platform.store.list(prefix))


async def _upload(
    wl: RunningPlatform, token: str, bundle: Path, project_id: str | None = None
) -> dict[str, Any]:
    completed = await upload_files(
        wl.client,
        wl.settings.public_url,
        token,
        (bundle / MODEL_FILE).read_bytes(),
        (bundle / MANIFEST_FILE).read_bytes(),
        project_id,
    )
    return await finished_upload(wl.client, token, completed["id"])


async def test_a_bundle_uploaded_through_put_urls_is_registered_and_serves_once_promoted(
    wl: RunningPlatform, admin: str, tiny_detector: Path, tmp_path: Path
) -> None:
    bundle = renamed(tiny_detector, tmp_path / "b", version="5.0.0", name="uploaded")
    onnx = (bundle / MODEL_FILE).read_bytes()

    opened = await ok(
        await open_upload(
            wl.client,
            admin,
            manifest_of(bundle),
            (len(onnx), (bundle / MANIFEST_FILE).stat().st_size),
        ),
        201,
    )
    assert opened["status"] == "awaiting_files"
    urls = {f["name"]: f["upload_url"] for f in opened["files"]}
    assert set(urls) == {MODEL_FILE, MANIFEST_FILE}
    # Completing before the files are there is refused, and changes nothing.
    early = await wl.client.post(
        f"/v1/models/uploads/{opened['id']}/complete", headers=bearer(admin)
    )
    assert early.status_code == 409, early.text
    assert "not uploaded yet" in early.json()["detail"]

    await put_signed(wl.client, wl.settings.public_url, urls[MODEL_FILE], onnx)
    await put_signed(
        wl.client,
        wl.settings.public_url,
        urls[MANIFEST_FILE],
        (bundle / MANIFEST_FILE).read_bytes(),
    )
    assert await _keys(wl, "staging/models/") == [
        f"staging/models/{opened['id']}/{MODEL_FILE}",
        f"staging/models/{opened['id']}/{MANIFEST_FILE}",
    ]
    completed = await ok(
        await wl.client.post(f"/v1/models/uploads/{opened['id']}/complete", headers=bearer(admin)),
        202,
    )
    assert completed["status"] in ("queued", "running", "succeeded")
    done = await finished_upload(wl.client, admin, opened["id"])
    assert done["status"] == "succeeded", done
    assert done["problem"] is None

    model = await ok(
        await wl.client.get(f"/v1/models/{done['model_id']}", headers=bearer(admin)), 200
    )
    assert (model["name"], model["version"], model["stage"]) == ("uploaded", "5.0.0", "registered")
    assert model["source"] == "external"
    assert model["registered_by"] == "admin"
    assert model["size_bytes"] == len(onnx)
    assert [(c["from_stage"], c["to_stage"]) for c in model["history"]] == [(None, "registered")]
    assert await wl.platform.store.get_bytes("models/uploaded/5.0.0/model.onnx") == onnx
    assert await _keys(wl, "staging/models/") == []
    # Completing again answers how it went; nothing runs twice.
    again = await ok(
        await wl.client.post(f"/v1/models/uploads/{opened['id']}/complete", headers=bearer(admin)),
        202,
    )
    assert again["status"] == "succeeded"
    # The same name and version again is refused as POST /v1/models refuses it.
    taken = await open_upload(wl.client, admin, manifest_of(bundle), (len(onnx), 10))
    assert taken.status_code == 409, taken.text

    promoted = await ok(
        await wl.client.post(f"/v1/models/{model['id']}/promote", headers=bearer(admin)), 200
    )
    assert promoted["stage"] == "production"

    async def serves() -> bool:
        models = (await wl.client.get("/readyz")).json()["services"]["inference"]["models"]
        return any((m["name"], m["version"]) == ("uploaded", "5.0.0") for m in models)

    await eventually(serves, timeout=60)


@pytest.mark.services("training")
async def test_a_bundle_whose_manifest_does_not_vouch_for_the_model_fails_and_leaves_nothing(
    wl: RunningPlatform, admin: str, tiny_detector: Path, tmp_path: Path
) -> None:
    bundle = renamed(tiny_detector, tmp_path / "b", version="6.0.0", name="mismatched")
    onnx = (bundle / MODEL_FILE).read_bytes()
    manifest = json.dumps({**manifest_of(bundle), "sha256": "0" * 64}).encode()

    failed = await finished_upload(
        wl.client,
        admin,
        (await upload_files(wl.client, wl.settings.public_url, admin, onnx, manifest))["id"],
    )
    assert failed["status"] == "failed", failed
    assert failed["model_id"] is None
    assert failed["problem"]["error"] == "BundleError"
    assert "does not match its manifest" in failed["problem"]["detail"]
    assert ["file", MANIFEST_FILE, "sha256"] in [f["location"] for f in failed["problem"]["fields"]]
    listed = await ok(await wl.client.get("/v1/models", headers=bearer(admin)), 200)
    assert listed["items"] == []
    assert await _keys(wl, "staging/") == []
    assert await _keys(wl, "models/") == []

    # A manifest for another model than the upload was opened for fails the same way.
    other = json.dumps({**manifest_of(bundle), "version": "6.0.1"}).encode()
    opened = await ok(
        await open_upload(wl.client, admin, manifest_of(bundle), (len(onnx), len(other))), 201
    )
    for file in opened["files"]:
        data = onnx if file["name"] == MODEL_FILE else other
        await put_signed(wl.client, wl.settings.public_url, file["upload_url"], data)
    await ok(
        await wl.client.post(f"/v1/models/uploads/{opened['id']}/complete", headers=bearer(admin)),
        202,
    )
    failed = await finished_upload(wl.client, admin, opened["id"])
    assert failed["status"] == "failed", failed
    assert "the upload was opened for '6.0.0'" in failed["problem"]["detail"]
    assert await _keys(wl, "staging/") == []
    assert await _keys(wl, "models/") == []


@pytest.mark.services("training")
async def test_only_those_who_may_register_a_model_may_upload_one(
    wl: RunningPlatform, admin: str, token_for: Tokens, tiny_detector: Path, tmp_path: Path
) -> None:
    herons, manager, viewer, stranger = project_roles(token_for)
    bundle = renamed(tiny_detector, tmp_path / "own", version="1.0.0", name="heron-detector")
    manifest, sizes = manifest_of(bundle), (100, 100)

    refused = await open_upload(wl.client, viewer, manifest, sizes, herons)
    assert refused.status_code == 403, refused.text
    refused = await open_upload(wl.client, manager, manifest, sizes)
    assert refused.status_code == 403, refused.text
    assert "platform admin" in refused.json()["detail"]
    assert (await open_upload(wl.client, stranger, manifest, sizes, herons)).status_code == 404

    done = await _upload(wl, manager, bundle, herons)
    assert done["status"] == "succeeded", done
    model = await ok(
        await wl.client.get(f"/v1/models/{done['model_id']}", headers=bearer(manager)), 200
    )
    assert (model["project_id"], model["registered_by"]) == (herons, "manager-h")
    # The project's viewer may not follow or complete its uploads; another project's manager
    # does not even see them.
    for path in (f"/v1/models/uploads/{done['id']}", f"/v1/models/uploads/{done['id']}/complete"):
        method = wl.client.get if path.endswith(done["id"]) else wl.client.post
        assert (await method(path, headers=bearer(viewer))).status_code == 403
        assert (await method(path, headers=bearer(stranger))).status_code == 404


async def test_a_declared_size_over_the_limit_is_refused_before_anything_is_sent(
    settings_for: SettingsFactory, tiny_detector: Path, tmp_path: Path
) -> None:
    bundle = renamed(tiny_detector, tmp_path / "big", version="7.0.0", name="big")
    size = (bundle / MODEL_FILE).stat().st_size
    settings = with_group(settings_for(), TrainingSettings, max_model_bytes=size - 1)
    async with running(settings, ["training"]) as wl:
        admin = admin_token(settings)
        refused = await open_upload(wl.client, admin, manifest_of(bundle), (size, 100))
        assert refused.status_code == 413, refused.text
        assert "larger than this platform accepts" in refused.json()["detail"]
        assert ["body", "files", 0, "size"] in [f["location"] for f in refused.json()["fields"]]
        # Over the limit by what was PUT rather than what was declared: the job refuses it.
        opened = await ok(
            await open_upload(wl.client, admin, manifest_of(bundle), (size - 1, 100)), 201
        )
        await put_signed(
            wl.client,
            wl.settings.public_url,
            opened["files"][0]["upload_url"],
            (bundle / MODEL_FILE).read_bytes(),
        )
        await put_signed(wl.client, wl.settings.public_url, opened["files"][1]["upload_url"], b"{}")
        await ok(
            await wl.client.post(
                f"/v1/models/uploads/{opened['id']}/complete", headers=bearer(admin)
            ),
            202,
        )
        failed = await finished_upload(wl.client, admin, opened["id"])
        assert failed["status"] == "failed", failed
        assert f"is {size} bytes; the upload announced {size - 1}" in failed["problem"]["detail"]
        assert await _keys(wl, "staging/") == []
        listed = await ok(await wl.client.get("/v1/models", headers=bearer(admin)), 200)
        assert listed["items"] == []


async def test_an_upload_never_completed_expires_and_its_files_are_swept(
    settings_for: SettingsFactory, tiny_detector: Path, tmp_path: Path
) -> None:
    bundle = renamed(tiny_detector, tmp_path / "late", version="8.0.0", name="late")
    done = renamed(tiny_detector, tmp_path / "done", version="8.1.0", name="late")
    # Its URLs work for 2 s; what is staged is swept 2 s after that (at the worker's next
    # round). Everything up to the late PUT below takes a fraction of a second: the worker is
    # woken by complete, so registering the other upload does not wait for a round.
    settings = with_group(settings_for(), TrainingSettings, upload_ttl_s=2)
    async with running(settings, ["training"]) as wl:
        admin = admin_token(settings)
        onnx = (bundle / MODEL_FILE).read_bytes()
        opened = await ok(
            await open_upload(wl.client, admin, manifest_of(bundle), (len(onnx), 9)), 201
        )
        await put_signed(wl.client, wl.settings.public_url, opened["files"][0]["upload_url"], onnx)
        # Another, completed and registered; then a holder of its URLs PUTs a file again.
        registered = await upload_files(
            wl.client,
            wl.settings.public_url,
            admin,
            (done / MODEL_FILE).read_bytes(),
            (done / MANIFEST_FILE).read_bytes(),
        )
        assert (await finished_upload(wl.client, admin, registered["id"]))["status"] == "succeeded"
        assert await _keys(wl, "staging/") == [f"staging/models/{opened['id']}/{MODEL_FILE}"]
        url = await wl.platform.store.url_for_put(f"staging/models/{registered['id']}/{MODEL_FILE}")
        await put_signed(wl.client, wl.settings.public_url, url, b"late")

        async def swept() -> dict[str, Any] | None:
            state = await ok(
                await wl.client.get(f"/v1/models/uploads/{opened['id']}", headers=bearer(admin)),
                200,
            )
            return state if state["status"] == "failed" else None

        expired = await eventually(swept, timeout=90, interval=0.5)
        assert expired["problem"]["error"] == "Expired"
        assert "not completed before it expired" in expired["problem"]["detail"]

        async def cleared() -> bool:
            return await _keys(wl, "staging/") == []

        await eventually(cleared, timeout=30)
        late = await wl.client.post(
            f"/v1/models/uploads/{opened['id']}/complete", headers=bearer(admin)
        )
        assert late.status_code == 202, late.text
        assert late.json()["status"] == "failed"
