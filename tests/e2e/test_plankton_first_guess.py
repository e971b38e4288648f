"""The serving model's first guess on imported objects, on the embedded and the real backends:
every object no person validated (predicted, dubious, uncategorised) is announced for
classification with its features, its imported label kept beside the machine's, so objects
sort by the model's score; an object imported again is announced again only when its
features or vignette changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_exchange_coco import new_project
from tests.e2e.test_exchange_ecotaxa import PLANKTON_TAXA, _job
from tests.e2e.test_plankton_sorting import scored
from tests.e2e.test_taxa import import_tree
from tests.support.api import bearer, ok
from tests.support.ecotaxa import EcoRow, bundle_zip, write_bundle
from tests.support.platform import RunningPlatform, eventually, get_media
from wildlens.common.bus import Subscription
from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.media_pb2 import MediaRecorded

pytestmark = pytest.mark.services("catalogue", "ingest")


async def _hear_recorded(wl: RunningPlatform) -> list[MediaRecorded]:
    """``media.recorded`` as an inference replica hears it."""
    heard: list[MediaRecorded] = []

    async def handler(envelopes: list[Envelope]) -> None:
        heard.extend(unpack(e, MediaRecorded) for e in envelopes)

    bus = wl.platform.contexts["catalogue"].bus
    bus.subscribe(Subscription("recorded-listener", "media.recorded", handler, broadcast=True))
    await bus.declared()
    return heard


def _rows(mean: str | None = None) -> list[EcoRow]:
    """One object in each annotation state; ``mean`` changes the predicted and validated
    objects' ``object_mean`` feature."""
    states = {"o_pred": "predicted", "o_dub": "dubious", "o_val": "validated", "o_none": ""}
    rows = []
    for object_id, status in states.items():
        row = EcoRow(object_id, "disc", 20)
        row.cells["object_annotation_status"] = status
        if status in ("validated", "dubious"):
            row.cells["object_annotation_person_name"] = "Marie Curie"
        if not status:
            row.cells |= {"object_annotation_category": "", "object_annotation_category_id": ""}
        if mean is not None and object_id in ("o_pred", "o_val"):
            row.cells["object_mean"] = mean
        rows.append(row)
    return rows


async def _import(
    wl: RunningPlatform, admin: str, pid: str, folder: Path, rows: list[EcoRow]
) -> dict[str, str]:
    """Import ``rows``; the media ids by object id."""
    done = await _job(wl, admin, pid, bundle_zip(write_bundle(folder, rows)))
    assert done["status"] == "succeeded", (done["error"], done["problems"][:5])
    listed = await ok(
        await wl.client.get(f"/v1/projects/{pid}/media?limit=100", headers=bearer(admin)), 200
    )
    return {Path(m["filename"]).stem: m["id"] for m in listed["items"]}


async def _announced(heard: list[MediaRecorded], count: int) -> list[MediaRecorded]:
    async def probe() -> list[MediaRecorded] | None:
        return heard if len(heard) >= count else None

    found: list[MediaRecorded] = await eventually(probe)
    return found


async def test_objects_no_person_validated_get_the_models_first_guess(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    await import_tree(wl.client, admin, PLANKTON_TAXA)
    pid = await new_project(wl, admin, "First guess")
    heard = await _hear_recorded(wl)
    media = await _import(wl, admin, pid, tmp_path / "first", _rows())
    by_media = {v: k for k, v in media.items()}

    first = await _announced(heard, 3)
    assert sorted(by_media[e.media_id] for e in first) == ["o_dub", "o_none", "o_pred"]
    assert all(e.single_object and set(e.features) >= {"area", "mean"} for e in first)

    # The same bundle again: nothing the model has not seen, nothing announced.
    await _import(wl, admin, pid, tmp_path / "same", _rows())
    # Changed features: the predicted object goes back to the model with them; the
    # validated one needs no guess.
    await _import(wl, admin, pid, tmp_path / "changed", _rows(mean="99.5"))
    again = (await _announced(heard, 4))[3:]
    assert [by_media[e.media_id] for e in again] == ["o_pred"]
    assert again[0].features["mean"] == 99.5
    assert len(heard) == 4

    # The model's guess sits beside the imported label, and objects sort by its score.
    await wl.platform.contexts["ingest"].publish(
        [scored(media["o_pred"], pid, 0.8), scored(media["o_dub"], pid, 0.3)]
    )

    async def analysed() -> dict[str, Any] | None:
        found = await get_media(wl.client, admin, media["o_dub"])
        return found if found and found.get("analyses") else None

    await eventually(analysed)
    pred = await get_media(wl.client, admin, media["o_pred"])
    assert pred is not None
    methods = sorted(
        (o["classification_method"], o["verification_state"], o["scientific_name"])
        for o in pred["observations"]
    )
    assert ("machine", "predicted", "Copepoda") in methods
    assert len([o for o in pred["observations"] if o["scientific_name"] == "Copepoda"]) == 2, (
        methods
    )
    ranked = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/media?sort=-score:Copepoda&limit=2", headers=bearer(admin)
        ),
        200,
    )
    assert [m["id"] for m in ranked["items"]] == [media["o_pred"], media["o_dub"]]
