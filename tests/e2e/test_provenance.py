"""Who identified an observation and when survives the import, a later verification and the
exports: the official Camtrap DP example's people stay its identifiers, on both backends."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.test_exchange_coco import export_zip, import_coco, import_example, new_project
from tests.e2e.test_exchange_dwca import tab_separated
from tests.support.api import bearer, ok
from tests.support.camtrapdp import EXAMPLE
from tests.support.platform import RunningPlatform

# Imports, verifications and exports are the catalogue's alone.
pytestmark = pytest.mark.services("catalogue")

EXPERT = "Danny Van der beeck"


def _source() -> dict[str, dict[str, str]]:
    with (EXAMPLE / "observations.csv").open(newline="") as handle:
        return {r["observationID"]: r for r in csv.DictReader(handle)}


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def _all(wl: RunningPlatform, admin: str, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = await ok(
            await wl.client.get(f"{path}&limit=1000{cursor}", headers=bearer(admin)), 200
        )
        items += page["items"]
        if not page["next_cursor"]:
            return items
        cursor = f"&cursor={page['next_cursor']}"


async def test_an_imported_persons_identification_is_kept_through_verification_and_export(
    wl: RunningPlatform, admin: str
) -> None:
    h = bearer(admin)
    source = _source()
    pid = await new_project(wl, admin, "MICA provenance")
    await import_example(wl, admin, pid)

    # In the list, people's labels are not machine guesses waiting for a verdict.
    listed = await _all(wl, admin, f"/v1/projects/{pid}/observations?observation_type=animal")
    people = [o for o in listed if o["classification_method"] == "human"]
    machines = [o for o in listed if o["classification_method"] == "machine"]
    assert people
    assert machines
    assert {o["verification_state"] for o in people} == {"validated"}
    assert {o["verification_state"] for o in machines} == {"predicted"}
    assert {o["classified_by"] for o in machines} == {"Western Europe species model Version 1"}

    # The expert's own identifications: who and when, as the package says.
    expert_rows = {
        k: r
        for k, r in source.items()
        if r["classifiedBy"] == EXPERT and r["observationType"] == "animal"
    }
    expert = [
        await ok(await wl.client.get(f"/v1/projects/{pid}/observations/{o['id']}", headers=h), 200)
        for o in people
        if o["classified_by"] == EXPERT
    ]
    assert len(expert) == len(expert_rows) == 17
    assert {_when(o["classification_timestamp"]) for o in expert} == {
        _when(r["classificationTimestamp"]) for r in expert_rows.values()
    }
    for o in expert:
        assert o["classification_method"] == "human"
        assert o["verification_state"] == "validated"
        assert o["verified_by"] == EXPERT
        assert _when(o["verified_at"]) == _when(o["classification_timestamp"])

    # A second person verifies one: the identifier stays, the verifier is added.
    chosen = expert[0]
    verified = await ok(
        await wl.client.post(f"/v1/projects/{pid}/observations/{chosen['id']}/validate", headers=h),
        200,
    )
    assert verified["classification_method"] == "human"
    assert verified["classified_by"] == EXPERT
    assert verified["classification_timestamp"] == chosen["classification_timestamp"]
    assert verified["verification_state"] == "validated"
    assert verified["verified_by"] == "admin"
    assert _when(verified["verified_at"]) != _when(chosen["verified_at"])
    chosen_row = next(
        r
        for r in expert_rows.values()
        if _when(r["classificationTimestamp"]) == _when(chosen["classification_timestamp"])
    )

    # Camtrap DP says who classified each and when, the verified one included.
    with await export_zip(wl, admin, pid, "camtrap-dp") as archive:
        exported = {
            r["observationID"]: r
            for r in csv.DictReader(io.StringIO(archive.read("observations.csv").decode()))
        }
    for key, row in source.items():
        for column in ("classificationMethod", "classifiedBy"):
            assert exported[key][column] == row[column], (key, column)
        assert _when(exported[key]["classificationTimestamp"]) == _when(
            row["classificationTimestamp"]
        ), key

    # Darwin Core: the expert identified, a model's guess is unverified, and the second
    # person's verification is told beside the identification without replacing it.
    with await export_zip(wl, admin, pid, "dwca") as archive:
        _, occurrences = tab_separated(archive.read("occurrence.txt"))
    by_id = {o["occurrenceID"]: o for o in occurrences if o["occurrenceStatus"] == "present"}
    for key, o in by_id.items():
        row = source[key]
        assert o["identifiedBy"] == row["classifiedBy"], key
        # Where the package does not say when, nobody knows: not the import's time.
        assert _when(o["dateIdentified"]) == _when(row["classificationTimestamp"]), key
        want = "verified" if row["classificationMethod"] == "human" else "unverified"
        assert o["identificationVerificationStatus"] == want, key
    mine = by_id[chosen_row["observationID"]]
    assert mine["identifiedBy"] == EXPERT
    assert "verified by admin" in mine["identificationRemarks"]


async def test_correcting_an_experts_count_keeps_the_expert_and_renaming_makes_a_new_one(
    wl: RunningPlatform, admin: str
) -> None:
    h = bearer(admin)
    pid = await new_project(wl, admin, "MICA corrections")
    await import_example(wl, admin, pid)
    listed = await _all(wl, admin, f"/v1/projects/{pid}/observations?classification_method=human")
    ident = next(o["id"] for o in listed if o["classified_by"] == EXPERT)
    path = f"/v1/projects/{pid}/observations/{ident}"
    before = await ok(await wl.client.get(path, headers=h), 200)

    recounted = await ok(await wl.client.post(f"{path}/correct", json={"count": 7}, headers=h), 200)
    assert recounted["count"] == 7
    assert recounted["classified_by"] == EXPERT
    assert recounted["classification_timestamp"] == before["classification_timestamp"]
    assert recounted["verified_by"] == "admin"

    # Another species than the one the expert named (which of his observations comes first
    # depends on their random ids).
    other = "Meles meles" if before["scientific_name"] == "Vulpes vulpes" else "Vulpes vulpes"
    renamed = await ok(
        await wl.client.post(f"{path}/correct", json={"scientific_name": other}, headers=h),
        200,
    )
    assert renamed["scientific_name"] == other
    assert renamed["classified_by"] == "admin"
    assert renamed["classification_timestamp"] != before["classification_timestamp"]
    # The expert's name is still in the history.
    history = await ok(await wl.client.get(f"{path}/history", headers=h), 200)
    assert history["items"][0]["before"]["classified_by"] == EXPERT


async def test_a_coco_files_labels_are_peoples_identifications_and_its_scores_the_machines(
    wl: RunningPlatform, admin: str
) -> None:
    pid = await new_project(wl, admin, "COCO provenance")
    image = {"file_name": "a.jpg", "location": "pond", "latitude": 50.1, "longitude": 4.2}
    document = {
        "images": [{"id": "a", **image}, {"id": "b", **image, "file_name": "b.jpg"}],
        "categories": [{"id": 1, "name": "Ardea cinerea"}],
        "annotations": [
            # A labelled data set's annotation: a person's, though it does not say whose.
            {"id": "a1", "image_id": "a", "category_id": 1},
            # A detector's output carried in the same format.
            {
                "id": "b1",
                "image_id": "b",
                "category_id": 1,
                "classification_method": "machine",
                "conf": 0.7,
            },
        ],
    }
    await ok(await import_coco(wl, admin, pid, document), 200)
    listed = await _all(wl, admin, f"/v1/projects/{pid}/observations?observation_type=animal")
    states = {o["id"]: (o["classification_method"], o["verification_state"]) for o in listed}
    assert sorted(states.values()) == [("human", "validated"), ("machine", "predicted")]
