"""Volunteers' consensus written back, through the real API and bus on both backends: a model's
top-k and its uncertainty are kept and announced as ``observations.changed``; a
``citsci.consensus`` published as citsci publishes it becomes one human observation per label
classified by volunteer consensus, with its provenance; a later version of the same consensus
updates it (history kept), a repeated or older one changes nothing; an expert can still
validate or override it; the review queue, Camtrap DP and Darwin Core tell it apart from
experts' and models' labels."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_exchange_coco import export_zip
from tests.e2e.test_exchange_dwca import tab_separated
from tests.e2e.test_taxa import import_tree
from tests.e2e.test_verification import CLASSIFIER, upload
from tests.support.api import bearer, ok
from tests.support.camtrapdp import validate
from tests.support.factories import Sites
from tests.support.platform import RunningPlatform, eventually
from wildlens.common.bus import Subscription
from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.citsci_pb2 import CitsciConsensus, ConsensusBox, ConsensusLabel
from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Classification,
    Detection,
    MediaAnalyzed,
    ModelRef,
)
from wildlens.common.events.v1.observations_pb2 import ChangeCause, ObservationsChanged

HERON, MALLARD, EGRET = "Ardea cinerea", "Anas platyrhynchos", "Ardea alba"


def torn_analysis(media_id: str, project_id: str) -> MediaAnalyzed:
    """A classifier torn between heron and mallard: a top-3 that leaves 0.1 to the rest."""
    event = MediaAnalyzed(
        media_id=media_id,
        project_id=project_id,
        detector=ModelRef(name="test-detector", version="1.0"),
        classifier=ModelRef(name=CLASSIFIER, version="1.0"),
        detections=[
            Detection(
                category="animal",
                confidence=0.9,
                bbox=BoundingBox(x=0.1, y=0.2, width=0.3, height=0.4),
                classifications=[
                    Classification(label="mallard", scientific_name=MALLARD, confidence=0.4),
                    Classification(label="heron", scientific_name=HERON, confidence=0.45),
                    Classification(label="egret", scientific_name=EGRET, confidence=0.05),
                ],
            )
        ],
    )
    event.analyzed_at.GetCurrentTime()
    return event


def consensus(
    project_id: str, media_id: str, version: int, name: str, agreement: float, subject: str
) -> CitsciConsensus:
    """What citsci publishes when the subject retires."""
    event = CitsciConsensus(
        consensus_id=f"zooniverse:wf-7:{subject}",
        version=version,
        subject_id=subject,
        media_ids=[media_id],
        project_id=project_id,
        workflow_id="wf-7",
        platform="zooniverse",
        subject_set_id="set-3",
        labels=[
            ConsensusLabel(
                scientific_name=name,
                choice=name.upper(),
                votes=round(agreement * 10),
                agreement=agreement,
                count=2,
                behaviours=["foraging"],
            )
        ],
        classification_count=10,
        pielou_evenness=0.47,
        fraction_blank=0.1,
        boxes=[
            ConsensusBox(
                media_id=media_id, x=0.12, y=0.2, width=0.3, height=0.38, scientific_name=name
            )
        ],
        retirement_reason="consensus",
        method="plurality",
    )
    event.retired_at.GetCurrentTime()
    return event


async def listen(wl: RunningPlatform) -> list[ObservationsChanged]:
    """Hear ``observations.changed`` as a consumer does."""
    heard: list[ObservationsChanged] = []

    async def handler(envelopes: list[Envelope]) -> None:
        heard.extend(unpack(e, ObservationsChanged) for e in envelopes)

    bus = wl.platform.contexts["catalogue"].bus
    bus.subscribe(
        Subscription("observations-listener", "observations.changed", handler, broadcast=True)
    )
    await bus.declared()
    return heard


async def heard_for(
    heard: list[ObservationsChanged], media_id: str, cause: ChangeCause
) -> ObservationsChanged:
    async def probe() -> list[ObservationsChanged]:
        return [e for e in heard if e.media_id == media_id and e.cause == cause]

    found: list[ObservationsChanged] = await eventually(probe)
    return found[-1]


async def volunteers(wl: RunningPlatform, admin: str, pid: str, media_id: str) -> list[Any]:
    """The medium's volunteers' consensus observations, discarded ones included."""
    page = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/observations",
            params={"classification_method": "human", "limit": 100},
            headers=bearer(admin),
        ),
        200,
    )
    return [
        o
        for o in page["items"]
        if o["media_id"] == media_id and o["classified_by"].startswith("volunteers:")
    ]


async def publish(wl: RunningPlatform, *events: CitsciConsensus) -> None:
    await wl.platform.contexts["citsci"].publish(list(events))


async def test_a_consensus_becomes_one_volunteers_observation_that_experts_can_judge(
    wl: RunningPlatform, admin: str, heron_images: list[Path], new_site: Sites, tmp_path: Path
) -> None:
    taxa = await import_tree(wl.client, admin)
    site = await new_site()
    pid = site.project_id
    h = bearer(admin)
    heard = await listen(wl)
    agreed, overruled = await upload(wl, admin, site, heron_images[:2])
    await wl.platform.contexts["inference"].publish(
        [torn_analysis(agreed, pid), torn_analysis(overruled, pid)]
    )

    # The model's top-k, best first, with how torn it was; announced with the same.
    machine = await heard_for(heard, agreed, ChangeCause.CHANGE_CAUSE_MACHINE)
    assert machine.changed_by == "test-detector@1.0"
    assert machine.verification_state == "unverified"
    (label,) = machine.labels
    assert label.scientific_name == HERON
    assert [(t.scientific_name, round(t.probability, 2)) for t in label.top_k] == [
        (HERON, 0.45),
        (MALLARD, 0.4),
        (EGRET, 0.05),
    ]
    assert round(machine.margin, 2) == 0.05
    assert 0.7 < machine.entropy < 0.9
    shown = await ok(await wl.client.get(f"/v1/media/{agreed}", headers=h), 200)
    (observed,) = shown["observations"]
    assert [t["scientific_name"] for t in observed["top_labels"]] == [HERON, MALLARD, EGRET]
    # The rest of what a consumer reads of the medium, as the catalogue shows it.
    assert list(label.bbox) == pytest.approx([0.1, 0.2, 0.3, 0.4])
    assert label.confidence == pytest.approx(0.9)
    assert label.classification_probability == pytest.approx(0.45)
    assert machine.captured_at.ToDatetime(tzinfo=UTC) == datetime.fromisoformat(
        shown["captured_at"]
    )
    assert abs(machine.changed_at.ToDatetime(tzinfo=UTC) - datetime.now(UTC)) < timedelta(minutes=5)
    assert observed["classification_margin"] == machine.margin

    # The queue explains the uncertainty it ranks by.
    queue = await ok(await wl.client.get(f"/v1/projects/{pid}/review", headers=h), 200)
    reasons = {r["reason"]: r for r in queue["items"][0]["reasons"]}
    assert reasons["small_margin"]["weight"] == round(0.5 * (1 - machine.margin), 4)
    assert reasons["high_entropy"]["weight"] == round(0.5 * machine.entropy, 4)

    # Volunteers retire both subjects: the one agrees with the model, the other says mallard.
    await publish(
        wl,
        consensus(pid, agreed, 1, HERON, 0.8, "s-1"),
        consensus(pid, overruled, 1, MALLARD, 0.6, "s-2"),
    )
    written = await heard_for(heard, agreed, ChangeCause.CHANGE_CAUSE_VOLUNTEER_CONSENSUS)
    assert written.consensus_id == "zooniverse:wf-7:s-1"
    assert written.changed_by == "volunteers:zooniverse:set-3"
    # A second opinion, not a verdict: citsci may send it on, and ignores its own cause.
    assert written.verification_state == "unverified"
    assert [(lb.scientific_name, lb.classification_method) for lb in written.labels] == [
        (HERON, "human")
    ]
    (mine,) = await volunteers(wl, admin, pid, agreed)
    assert mine["taxon_id"] == taxa[HERON]
    state = await ok(
        await wl.client.get(f"/v1/projects/{pid}/observations/{mine['id']}", headers=h), 200
    )
    assert state["verification_state"] == "predicted"
    assert state["confidence"] == 0.8
    assert state["count"] == 2
    assert state["behavior"] == "foraging"
    provenance = state["consensus"]
    assert provenance["subject_id"] == "s-1"
    assert provenance["workflow_id"] == "wf-7"
    assert (provenance["votes"], provenance["classification_count"]) == (8, 10)
    assert provenance["pielou_evenness"] == 0.47
    assert provenance["fraction_blank"] == 0.1
    assert provenance["retirement_reason"] == "consensus"
    assert provenance["boxes"][0]["bbox"] == [0.12, 0.2, 0.3, 0.38]

    # Delivered twice, or an older version late: still one observation, unchanged.
    await publish(wl, consensus(pid, agreed, 1, HERON, 0.8, "s-1"))
    await publish(wl, consensus(pid, overruled, 2, MALLARD, 0.9, "s-2"))

    async def updated() -> list[Any]:
        found = await volunteers(wl, admin, pid, overruled)
        return found if found and found[0]["confidence"] == 0.9 else []

    (later,) = await eventually(updated)
    await publish(wl, consensus(pid, overruled, 1, HERON, 0.6, "s-2"))
    assert await volunteers(wl, admin, pid, agreed) == [mine]
    history = await ok(
        await wl.client.get(f"/v1/projects/{pid}/observations/{later['id']}/history", headers=h),
        200,
    )
    assert [c["action"] for c in history["items"]] in ([], ["consensus"])
    assert (await volunteers(wl, admin, pid, overruled))[0]["confidence"] == 0.9

    # A third version changes the label: the same observation, its history says so.
    await publish(wl, consensus(pid, overruled, 3, EGRET, 0.7, "s-2"))

    async def renamed() -> list[Any]:
        found = await volunteers(wl, admin, pid, overruled)
        return found if found and found[0]["scientific_name"] == EGRET else []

    (egret,) = await eventually(renamed)
    assert egret["id"] == later["id"]
    history = await ok(
        await wl.client.get(f"/v1/projects/{pid}/observations/{egret['id']}/history", headers=h),
        200,
    )
    last = history["items"][-1]
    assert last["action"] == "consensus"
    assert last["changed_by"] == "volunteers:zooniverse:set-3"
    assert (last["before"]["scientific_name"], last["after"]["scientific_name"]) == (
        MALLARD,
        EGRET,
    )

    # The queue shows the volunteers' label apart from the model's, and their disagreement.
    queue = await ok(await wl.client.get(f"/v1/projects/{pid}/review", headers=h), 200)
    items = {i["media_id"]: i for i in queue["items"]}
    assert items[overruled]["scientific_names"] == [HERON]
    assert items[overruled]["volunteer_scientific_names"] == [EGRET]
    assert items[overruled]["volunteer_observation_ids"] == [egret["id"]]
    assert "volunteer_disagreement" in {r["reason"] for r in items[overruled]["reasons"]}
    assert items[agreed]["volunteer_scientific_names"] == [HERON]
    assert "volunteer_disagreement" not in {r["reason"] for r in items[agreed]["reasons"]}
    assert list(items) == [overruled, agreed]

    # An expert validates the agreed one and overrides the other: both leave the queue, and
    # a later consensus leaves the expert's word alone.
    validated = await ok(
        await wl.client.post(f"/v1/projects/{pid}/observations/{mine['id']}/validate", headers=h),
        200,
    )
    assert validated["classified_by"] == "volunteers:zooniverse:set-3"
    assert validated["verified_by"] == "admin"
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/observations/{egret['id']}/correct",
            json={"scientific_name": MALLARD},
            headers=h,
        ),
        200,
    )
    expert = await heard_for(heard, overruled, ChangeCause.CHANGE_CAUSE_EXPERT)
    assert expert.verification_state == "verified"
    assert expert.changed_by == "admin"
    queue = await ok(await wl.client.get(f"/v1/projects/{pid}/review", headers=h), 200)
    assert queue["items"] == []
    await publish(wl, consensus(pid, overruled, 4, HERON, 0.7, "s-2"))
    await publish(wl, consensus(pid, agreed, 2, MALLARD, 0.7, "s-1"))

    async def noted() -> bool:
        state = await ok(
            await wl.client.get(f"/v1/projects/{pid}/observations/{mine['id']}", headers=h), 200
        )
        return bool(state["consensus"]["version"] == 2)

    await eventually(noted)
    kept = await ok(
        await wl.client.get(f"/v1/projects/{pid}/observations/{egret['id']}", headers=h), 200
    )
    assert (kept["scientific_name"], kept["classified_by"]) == (MALLARD, "admin")
    mine_now = await ok(
        await wl.client.get(f"/v1/projects/{pid}/observations/{mine['id']}", headers=h), 200
    )
    assert (mine_now["scientific_name"], mine_now["verification_state"]) == (HERON, "validated")

    # One more subject, left to the volunteers: the exports tell all three kinds apart.
    (third,) = await upload(wl, admin, site, heron_images[2:3])
    await publish(wl, consensus(pid, third, 1, HERON, 0.75, "s-3"))
    (volunteered,) = await eventually(lambda: volunteers(wl, admin, pid, third))

    with await export_zip(wl, admin, pid, "camtrap-dp") as archive:
        exported = tmp_path / "camtrap"
        archive.extractall(exported)
    report = validate(exported / "datapackage.json")
    assert report.valid, report.flatten(["type", "message"])[:10]
    with (exported / "observations.csv").open(newline="") as handle:
        rows = {r["observationID"]: r for r in csv.DictReader(handle)}
    row = rows[volunteered["id"]]
    assert (row["classificationMethod"], row["classifiedBy"]) == (
        "human",
        "volunteers:zooniverse:set-3",
    )
    assert float(row["classificationProbability"]) == 0.75
    assert rows[egret["id"]]["classifiedBy"] == "admin"
    machine_rows = [r for r in rows.values() if r["classificationMethod"] == "machine"]
    assert {r["classifiedBy"] for r in machine_rows} == {"test-detector@1.0"}

    with await export_zip(wl, admin, pid, "dwca") as archive:
        _, occurrences = tab_separated(archive.read("occurrence.txt"))
    by_id = {o["occurrenceID"]: o for o in occurrences if o["occurrenceStatus"] == "present"}
    assert by_id[volunteered["id"]]["identificationVerificationStatus"] == "volunteer consensus"
    assert "volunteers' agreement 0.750" in by_id[volunteered["id"]]["identificationRemarks"]
    assert by_id[volunteered["id"]]["basisOfRecord"] == "HumanObservation"
    assert by_id[mine["id"]]["identificationVerificationStatus"] == "verified"
    assert by_id[egret["id"]]["identificationVerificationStatus"] == "verified"
    assert {
        o["identificationVerificationStatus"]
        for o in by_id.values()
        if o["basisOfRecord"] == "MachineObservation"
    } <= {"unverified"}


async def test_a_subject_of_several_frames_converges_on_its_latest_consensus(
    wl: RunningPlatform, admin: str, heron_images: list[Path], new_site: Sites
) -> None:
    await import_tree(wl.client, admin)
    site = await new_site()
    pid = site.project_id
    frames = await upload(wl, admin, site, heron_images[:2])

    def frames_consensus(
        version: int, *labels: ConsensusLabel, media: list[str]
    ) -> CitsciConsensus:
        return CitsciConsensus(
            consensus_id="wildlens:wf-2:event-9",
            version=version,
            subject_id="event-9",
            media_ids=media,
            project_id=pid,
            workflow_id="wf-2",
            platform="wildlens",
            labels=labels,
            classification_count=5,
            fraction_blank=0.0 if labels else 0.8,
            retirement_reason="consensus" if labels else "nothing_here",
            method="dawid_skene",
        )

    async def labels(media_id: str) -> list[tuple[str, str, str]]:
        found = await volunteers(wl, admin, pid, media_id)
        return sorted(
            (o["observation_type"], o["scientific_name"], o["verification_state"]) for o in found
        )

    async def settled(want: dict[str, list[tuple[str, str, str]]]) -> bool:
        return all([await labels(m) == w for m, w in want.items()])

    # Retired as blank: one blank observation on each frame.
    await publish(wl, frames_consensus(1, media=frames))
    blank = [("blank", "", "predicted")]
    await eventually(lambda: settled(dict.fromkeys(frames, blank)))

    # Recounted: a heron and a mallard on both frames; the blank became one of them.
    heron = ConsensusLabel(scientific_name=HERON, choice="heron", votes=4, agreement=0.8)
    mallard = ConsensusLabel(scientific_name=MALLARD, choice="mallard", votes=3, agreement=0.6)
    await publish(wl, frames_consensus(2, heron, mallard, media=frames))
    both = [("animal", MALLARD, "predicted"), ("animal", HERON, "predicted")]
    await eventually(lambda: settled(dict.fromkeys(frames, both)))

    # Only the heron, and only on the first frame: what no longer holds is discarded, never
    # duplicated, and an older version arriving late changes nothing.
    await publish(wl, frames_consensus(3, heron, media=frames[:1]))
    await publish(wl, frames_consensus(2, heron, mallard, media=frames))
    await eventually(
        lambda: settled(
            {
                frames[0]: [("animal", MALLARD, "discarded"), ("animal", HERON, "predicted")],
                frames[1]: [("animal", MALLARD, "discarded"), ("animal", HERON, "discarded")],
            }
        )
    )
    # The first frame's heron is the observation the blank turned into.
    (first,) = [
        o
        for o in await volunteers(wl, admin, pid, frames[0])
        if o["verification_state"] == "predicted"
    ]
    history = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/observations/{first['id']}/history", headers=bearer(admin)
        ),
        200,
    )
    assert history["items"][0]["before"]["observation_type"] == "blank"
    assert {c["action"] for c in history["items"]} == {"consensus"}
