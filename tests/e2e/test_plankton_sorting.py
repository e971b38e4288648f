"""Sorting objects as EcoTaxa's users do, on the embedded and the real backends: a whole
feature-filtered selection validated, marked dubious or reclassified in one call, each
change in its observation's history and announced as a single change is; a selection over
the call's limit refused with nothing changed; objects ordered by the classifier's score for
a taxon, those without one last."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_exchange_coco import new_project
from tests.e2e.test_exchange_ecotaxa import PLANKTON_TAXA, _job
from tests.e2e.test_taxa import import_tree
from tests.e2e.test_volunteer_consensus import listen
from tests.support.api import bearer, ok
from tests.support.ecotaxa import EcoRow, bundle_zip, write_bundle
from tests.support.platform import RunningPlatform, eventually, get_media, user_token
from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Classification,
    Detection,
    MediaAnalyzed,
    ModelRef,
)
from wildlens.common.events.v1.observations_pb2 import ChangeCause

pytestmark = pytest.mark.services("catalogue", "ingest")

ANNOTATOR = "sorter-1"
# object id → (kind, major axis in pixels)
OBJECTS = {
    "o10": ("disc", 10),
    "o20": ("square", 20),
    "o30": ("disc", 30),
    "o40": ("ring", 40),
    "o50": ("disc", 50),
    "o60": ("square", 60),
}


def scored(media_id: str, project_id: str, copepod: float) -> MediaAnalyzed:
    """A whole-vignette classification with a top-2: Copepoda at ``copepod``."""
    event = MediaAnalyzed(
        media_id=media_id,
        project_id=project_id,
        detector=ModelRef(name="whole-object", version="1.0"),
        classifier=ModelRef(name="plankton-classifier", version="1.0"),
        detections=[
            Detection(
                category="animal",
                confidence=1.0,
                bbox=BoundingBox(x=0, y=0, width=1, height=1),
                classifications=[
                    Classification(label="cop", scientific_name="Copepoda", confidence=copepod),
                    Classification(
                        label="arth", scientific_name="Arthropoda", confidence=1 - copepod
                    ),
                ],
            )
        ],
    )
    event.analyzed_at.GetCurrentTime()
    return event


async def _get(wl: RunningPlatform, token: str, path: str) -> Any:
    return await ok(await wl.client.get(path, headers=bearer(token)), 200)


async def test_a_filtered_selection_is_sorted_in_one_call_and_objects_sort_by_score(
    wl: RunningPlatform, admin: str, tmp_path: Path
) -> None:
    taxa = await import_tree(wl.client, admin, PLANKTON_TAXA)
    pid = await new_project(wl, admin, "Sorting")
    rows = [
        EcoRow(object_id, kind, 16, cells={"object_major": str(major)})
        for object_id, (kind, major) in OBJECTS.items()
    ]
    done = await _job(wl, admin, pid, bundle_zip(write_bundle(tmp_path / "b", rows)))
    assert done["status"] == "succeeded", (done["error"], done["problems"][:5])
    media = {
        m["filename"].removesuffix(".png"): m["id"]
        for m in (await _get(wl, admin, f"/v1/projects/{pid}/media?limit=100"))["items"]
    }
    listed = await _get(wl, admin, f"/v1/projects/{pid}/observations?limit=100")
    observation = {o["media_id"]: o for o in listed["items"]}
    by_object = {name: observation[media[name]] for name in OBJECTS}

    await ok(
        await wl.client.put(
            f"/v1/projects/{pid}/members/{ANNOTATOR}",
            json={"role": "annotator"},
            headers=bearer(admin),
        ),
        201,
    )
    annotator = user_token(wl.settings, ANNOTATOR, {pid: "annotator"})
    viewer = user_token(wl.settings, "viewer-1", {pid: "viewer"})
    heard = await listen(wl)

    async def post(path: str, token: str = annotator, **kwargs: Any) -> Any:
        return await wl.client.post(
            f"/v1/projects/{pid}/selection/{path}", headers=bearer(token), **kwargs
        )

    # The large ones validated at once, each in its history, each medium announced.
    large = await ok(await post("validate?feature=major>=40&verification_state=predicted"), 200)
    assert large == {"action": "validate", "matched": 3, "changed": 3}
    for name in ("o40", "o50", "o60"):
        o = by_object[name]
        state = await _get(wl, admin, f"/v1/projects/{pid}/observations/{o['id']}")
        assert state["verification_state"] == "validated"
        assert state["verified_by"] == ANNOTATOR
        history = await _get(wl, admin, f"/v1/projects/{pid}/observations/{o['id']}/history")
        assert [c["action"] for c in history["items"]] == ["validate"]
        assert history["items"][0]["changed_by"] == ANNOTATOR

    async def announced() -> set[str]:
        return {
            e.media_id
            for e in heard
            if e.cause == ChangeCause.CHANGE_CAUSE_EXPERT and e.changed_by == ANNOTATOR
        }

    expected = {media[n] for n in ("o40", "o50", "o60")}
    await eventually(lambda: _superset(announced, expected))
    # Saying it again changes nothing.
    again = await ok(await post("validate?feature=major>=40"), 200)
    assert again == {"action": "validate", "matched": 3, "changed": 0}

    # The smallest doubted; two reclassified to a taxon, one of them made detritus after.
    assert (await ok(await post("dubious?feature=major<20"), 200))["changed"] == 1
    moved = await ok(
        await post(
            "reclassify?feature=major>=20&feature=major<40",
            json={"taxon_id": taxa["Copepoda"]},
        ),
        200,
    )
    assert moved == {"action": "reclassify", "matched": 2, "changed": 2}
    for name in ("o20", "o30"):
        state = await _get(wl, admin, f"/v1/projects/{pid}/observations/{by_object[name]['id']}")
        assert (state["taxon_id"], state["scientific_name"]) == (taxa["Copepoda"], "Copepoda")
        assert state["verification_state"] == "validated"
        assert state["observation_type"] == "animal"
    detritus = await ok(
        await post("reclassify?feature=major=30", json={"scientific_name": "detritus"}), 200
    )
    assert detritus["changed"] == 1
    o30 = await _get(wl, admin, f"/v1/projects/{pid}/observations/{by_object['o30']['id']}")
    assert (o30["taxon_id"], o30["observation_type"]) == (None, "unknown")
    history = await _get(
        wl, admin, f"/v1/projects/{pid}/observations/{by_object['o30']['id']}/history"
    )
    assert [c["action"] for c in history["items"]] == ["correct", "correct"]

    # Beyond the limit: refused, nothing changed; a viewer may not sort; a bad body is 422.
    too_many = await post("dubious?limit=5")
    assert too_many.status_code == 422, too_many.text
    assert "more than 5" in too_many.json()["detail"]
    still = await _get(wl, admin, f"/v1/projects/{pid}/observations/{by_object['o40']['id']}")
    assert still["verification_state"] == "validated"
    assert (await post("validate", token=viewer)).status_code == 403
    assert (await post("reclassify", json={})).status_code == 422

    # Scores: the classifier's probability for Copepoda, highest first, unscored last.
    scores = {"o10": 0.2, "o20": 0.9, "o30": 0.5, "o40": 0.7}
    await wl.platform.contexts["ingest"].publish(
        [scored(media[name], pid, p) for name, p in scores.items()]
    )

    async def analysed() -> bool:
        for name in scores:
            found = await get_media(wl.client, admin, media[name])
            if not (found or {}).get("analyses"):
                return False
        return True

    await eventually(analysed)
    ranked = await _get(wl, admin, f"/v1/projects/{pid}/media?sort=-score:Copepoda&limit=3")
    assert [m["id"] for m in ranked["items"]] == [media["o20"], media["o40"], media["o30"]]
    rest = await _get(
        wl,
        admin,
        f"/v1/projects/{pid}/media?sort=-score:Copepoda&limit=3&cursor={ranked['next_cursor']}",
    )
    assert next(m["id"] for m in rest["items"]) == media["o10"]
    assert {m["id"] for m in rest["items"][1:]} == {media["o50"], media["o60"]}
    by_id = await _get(
        wl, admin, f"/v1/projects/{pid}/observations?sort=score:{taxa['Copepoda']}&limit=100"
    )
    machine = [o for o in by_id["items"] if o["classification_method"] == "machine"]
    firsts = [o["media_id"] for o in machine[:4]]
    assert firsts == [media[n] for n in ("o10", "o30", "o40", "o20")]
    by_label = await _get(wl, admin, f"/v1/projects/{pid}/media?sort=-score:cop&limit=1")
    assert by_label["items"][0]["id"] == media["o20"]
    unknown = await wl.client.get(
        f"/v1/projects/{pid}/media?sort=score:{pid}", headers=bearer(admin)
    )
    assert unknown.status_code == 422, unknown.text


async def _superset(probe: Any, expected: set[str]) -> bool:
    found: set[str] = await probe()
    return expected <= found
