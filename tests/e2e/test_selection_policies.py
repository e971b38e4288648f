"""Selection for citizen science by the project's policy, through the API on both backends:
a project's analysed media of varied certainty go to a built-in set or to the Zooniverse
stand-in exactly as the policy says, each subject with why (unsure ones, disagreement, rare
taxa, media no detector looked at, a seeded quality-control sample of confident ones), an
event's pictures together, never a blank the detector is sure of, never a medium the set
holds or an expert validated; where the project hides people, a medium with people is never
chosen, served or sent, and one labelled with a person later is withdrawn."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from pydantic import SecretStr

from tests.e2e.test_datasets import _image
from tests.e2e.test_verification import CLASSIFIER, analyse
from tests.support.api import bearer, ok, post_media
from tests.support.factories import Sites, Uploads
from tests.support.panoptes_standin import ExportRow, PanoptesStandIn, panoptes_standin
from tests.support.platform import (
    RunningPlatform,
    SettingsFactory,
    eventually,
    get_media,
    processed_count,
    with_group,
)
from tests.support.platform import user_token as token
from tests.support.videos import video_bytes
from wildlens.citsci.models import VolunteerSubject
from wildlens.citsci.selection.policy import drawn
from wildlens.citsci.settings import CitsciSettings, VolunteerSettings, ZooniverseSettings
from wildlens.citsci.zooniverse.service import MEDIA_ID_FIELD, MEDIA_IDS_FIELD
from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Classification,
    Detection,
    MediaAnalyzed,
    ModelRef,
)
from wildlens.common.settings import Settings
from wildlens.common.storage.layout import display_key
from wildlens.ingest.settings import IngestSettings

pytestmark = pytest.mark.services("catalogue", "ingest", "inference", "citsci")

HERON, EGRET, MALLARD = "Ardea cinerea", "Ardea alba", "Anas platyrhynchos"
PROJECT, WORKFLOW = "4242", "777"
# Unsure below 0.6 certainty; rare: a species never validated in the project; a confident
# one drawn at one in two, by seed 11.
POLICY = {"rare_below": 1, "quality_control_rate": 0.5, "seed": 11}


@pytest.fixture
def standin() -> Iterator[PanoptesStandIn]:
    with panoptes_standin() as s:
        yield s


@pytest.fixture
def settings(settings_for: SettingsFactory, standin: PanoptesStandIn) -> Settings:
    """No gold standard served (the order volunteers see is predictable); the stand-in's
    Zooniverse account; a video gives a frame a second."""
    return with_group(
        settings_for(
            citsci=CitsciSettings(
                volunteers=VolunteerSettings(gold_standard_rate=0.0),
                zooniverse=ZooniverseSettings(
                    endpoint=standin.url, client_id="wildlens-app", client_secret=SecretStr("s")
                ),
            )
        ),
        IngestSettings,
        video_frame_interval_s=1,
        video_clip_seconds=0,
    )


def _analysis(
    media_id: str,
    project_id: str,
    labels: list[tuple[str, float]],
    *,
    confidence: float = 0.95,
    category: str = "animal",
    version: str = "1.0",
    detections: int = 1,
) -> MediaAnalyzed:
    """One detection (or none) with the classifier's top-k as given."""
    event = MediaAnalyzed(
        media_id=media_id,
        project_id=project_id,
        detector=ModelRef(name="test-detector", version=version),
        classifier=ModelRef(name=CLASSIFIER, version=version),
        detections=[
            Detection(
                category=category,
                confidence=confidence,
                bbox=BoundingBox(x=0.1, y=0.2, width=0.3, height=0.4),
                classifications=[
                    Classification(label=name.split()[-1], scientific_name=name, confidence=p)
                    for name, p in labels
                ],
            )
            for _ in range(detections)
        ],
    )
    event.analyzed_at.GetCurrentTime()
    return event


SURE_HERON = [(HERON, 0.97), (EGRET, 0.02)]
TORN = [(MALLARD, 0.4), (HERON, 0.45), (EGRET, 0.05)]


async def _photo(wl: RunningPlatform, admin: str, device: str, n: int, when: str) -> str:
    data = _image(0, 900 + n, (0.3, 0.25, 0.25, 0.4), when)
    accepted = await ok(await post_media(wl.client, device, data=data), 202)
    media_id = str(accepted["media_id"])
    await eventually(partial(get_media, wl.client, admin, media_id))
    await eventually(partial(wl.platform.store.exists, display_key(accepted["sha256"])))
    return media_id


async def _hide_people(wl: RunningPlatform, admin: str, pid: str, *, hide: bool = True) -> None:
    await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}/privacy", json={"hide_people": hide}, headers=bearer(admin)
        ),
        200,
    )


async def _label_person(wl: RunningPlatform, admin: str, pid: str, media_id: str) -> None:
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/media/{media_id}/observations",
            json={"observation_type": "human"},
            headers=bearer(admin),
        ),
        201,
    )


async def _set(wl: RunningPlatform, manager: str, pid: str, **extra: Any) -> str:
    created = await ok(
        await wl.client.post(
            "/v1/citsci/subject-sets",
            json={"project_id": pid, "name": "Selected", **extra},
            headers=bearer(manager),
        ),
        201,
    )
    return str(created["id"])


async def _select(wl: RunningPlatform, manager: str, set_id: str, **body: Any) -> dict[str, Any]:
    return dict(
        await ok(
            await wl.client.post(
                f"/v1/citsci/subject-sets/{set_id}/select", json=body, headers=bearer(manager)
            ),
            200,
        )
    )


async def test_the_policy_chooses_subjects_with_their_reasons_and_people_never_leave(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites
) -> None:
    site = await new_site()
    pid = site.project_id
    manager = token(settings, "manager-1", {pid: "manager"})
    volunteer = token(settings, "volunteer-1", {pid: "volunteer"})
    await _hide_people(wl, admin, pid)

    # A day apart, each medium is its own event; the last three, seconds apart, one event
    # (all within the site's deployment).
    days = [f"2021:04:{d:02d} 09:00:00" for d in range(1, 13)]
    burst = [f"2021:04:15 06:00:0{s}" for s in range(3)]
    photos = [await _photo(wl, admin, site.device_token, n, w) for n, w in enumerate(days + burst)]
    torn, validated, egret, models, fresh, blank, person = photos[:7]
    confident = photos[7:12]
    e1, e2, e3 = photos[12:]
    await analyse(
        wl,
        admin,
        _analysis(torn, pid, TORN),
        _analysis(validated, pid, SURE_HERON),
        _analysis(egret, pid, [(EGRET, 0.97), (HERON, 0.02)]),
        _analysis(models, pid, SURE_HERON),
        _analysis(blank, pid, [], detections=0),
        _analysis(person, pid, [], confidence=0.5, category="person"),
        *(_analysis(m, pid, SURE_HERON) for m in [*confident, e2, e3]),
        _analysis(e1, pid, TORN),
    )
    # A newer model calls it an egret: models disagree.
    await analyse(wl, admin, _analysis(models, pid, [(EGRET, 0.97)], version="2.0"))
    # An expert validates one heron: herons are no longer rare, and it is never chosen.
    medium = await get_media(wl.client, admin, validated)
    assert medium is not None
    (observation,) = medium["observations"]
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/observations/{observation['id']}/validate",
            headers=bearer(admin),
        ),
        200,
    )

    # The policy: the defaults until a manager sets one; nonsense is refused clearly.
    path = f"/v1/citsci/projects/{pid}/selection-policy"
    defaults = await ok(await wl.client.get(path, headers=bearer(manager)), 200)
    assert (defaults["updated_by"], defaults["max_certainty"]) == (None, 0.6)
    for bad, said in (
        ({"max_certainty": 1.5}, "max_certainty"),
        ({"max_frames": 21}, "max_frames"),
        ({"colour": "blue"}, "colour"),
        (
            {
                "uncertain": False,
                "disagreement": False,
                "rare_taxa": False,
                "not_analysed": False,
                "quality_control_rate": 0,
            },
            "selects nothing",
        ),
    ):
        refused = await wl.client.put(path, json=bad, headers=bearer(manager))
        assert refused.status_code == 422, refused.text
        assert said in refused.text
    await ok(await wl.client.put(path, json=POLICY, headers=bearer(volunteer)), 403)
    policy = await ok(await wl.client.put(path, json=POLICY, headers=bearer(manager)), 200)
    assert (policy["rare_below"], policy["updated_by"]) == (1, "manager-1")
    assert (await ok(await wl.client.get(path, headers=bearer(manager)), 200)) == policy

    set_id = await _set(wl, manager, pid)
    await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{set_id}/select", json={}, headers=bearer(volunteer)
        ),
        403,
    )
    dry = await _select(wl, manager, set_id, limit=100, dry_run=True)
    chosen = await _select(wl, manager, set_id, limit=100)
    assert [s["media_ids"] for s in dry["subjects"]] == [s["media_ids"] for s in chosen["subjects"]]
    assert all(s["subject_id"] is None for s in dry["subjects"])
    assert all(s["subject_id"] is not None for s in chosen["subjects"])
    why = {s["chosen_media_id"]: {r["reason"] for r in s["reasons"]} for s in chosen["subjects"]}
    sampled = {m for m in [*confident, e2, e3] if drawn(11, m, 0.5)}
    expected = {
        torn: {"uncertain"},
        egret: {"rare_taxon"},
        models: {"disagreement", "rare_taxon"},
        fresh: {"not_analysed"},
        e1: {"uncertain"},
        **{m: {"quality_control"} for m in sampled if m in confident},
    }
    assert why == expected
    # The event's three pictures are one subject; a picture of it drawn for quality control
    # is already in it.
    (event,) = [s for s in chosen["subjects"] if s["chosen_media_id"] == e1]
    assert event["media_ids"] == [e1, e2, e3]
    assert all(len(s["media_ids"]) == 1 for s in chosen["subjects"] if s is not event)
    # Never the sure blank, the validated medium, or the person; the person is named.
    everything = {m for s in chosen["subjects"] for m in s["media_ids"]}
    assert not everything & {blank, validated, person}
    assert chosen["skipped"] == [
        {"media_id": person, "reason": "it shows people, and the project hides people"}
    ]
    # Nothing the set holds is chosen again.
    again = await _select(wl, manager, set_id, limit=100)
    assert not {m for s in again["subjects"] for m in s["media_ids"]} & everything

    # Added by hand, the person is refused, named.
    refused = await wl.client.post(
        f"/v1/citsci/subject-sets/{set_id}/subjects",
        json={"subjects": [{"media_ids": [person]}]},
        headers=bearer(manager),
    )
    assert refused.status_code == 422, refused.text
    assert "people" in refused.json()["fields"][0]["message"]

    # A person labelled on a subject's medium later: it is withdrawn, served to nobody.
    await _label_person(wl, admin, pid, torn)
    (torn_subject,) = [s["subject_id"] for s in chosen["subjects"] if s["chosen_media_id"] == torn]

    async def withdrawn() -> bool:
        async with wl.platform.contexts["citsci"].database.transaction() as session:
            found = await session.get(VolunteerSubject, uuid.UUID(torn_subject))
            return found is not None and found.state == "withdrawn"

    await eventually(withdrawn)
    # A subject made while people were not hidden is not served once they are.
    await _hide_people(wl, admin, pid, hide=False)
    await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{set_id}/subjects",
            json={"subjects": [{"media_ids": [person]}]},
            headers=bearer(manager),
        ),
        201,
    )
    await _hide_people(wl, admin, pid)
    served: list[str] = []
    while (
        shown := (
            await ok(
                await wl.client.get(
                    "/v1/citsci/subjects/next",
                    params={"project_id": pid},
                    headers=bearer(volunteer),
                ),
                200,
            )
        )["subject"]
    ) is not None:
        served += [m["media_id"] for m in shown["media"]]
        await ok(
            await wl.client.post(
                f"/v1/citsci/subjects/{shown['id']}/classifications",
                json={"nothing_here": True},
                headers=bearer(volunteer),
            ),
            201,
        )
    assert set(served) == everything - {torn}
    assert person not in served


async def test_zooniverse_gets_the_chosen_images_and_never_people(
    wl: RunningPlatform,
    settings: Settings,
    admin: str,
    new_site: Sites,
    standin: PanoptesStandIn,
) -> None:
    site = await new_site()
    pid = site.project_id
    await _hide_people(wl, admin, pid)
    days = [f"2021:04:{d:02d} 09:00:00" for d in range(1, 5)]
    unsure, other, sure, person = [
        await _photo(wl, admin, site.device_token, 40 + n, w) for n, w in enumerate(days)
    ]
    await analyse(
        wl,
        admin,
        _analysis(unsure, pid, TORN),
        _analysis(other, pid, TORN),
        _analysis(sure, pid, SURE_HERON),
        _analysis(person, pid, TORN, category="person"),
    )
    await ok(
        await wl.client.put(
            f"/v1/citsci/projects/{pid}/selection-policy",
            json={"rare_taxa": False, "quality_control_rate": 0},
            headers=bearer(admin),
        ),
        200,
    )
    set_id = await _set(
        wl,
        admin,
        pid,
        destination="zooniverse",
        zooniverse_project_id=PROJECT,
        zooniverse_workflow_id=WORKFLOW,
    )
    chosen = await _select(wl, admin, set_id, limit=10)
    assert {s["chosen_media_id"] for s in chosen["subjects"]} == {unsure, other}
    assert all(s["reasons"][0]["reason"] == "uncertain" for s in chosen["subjects"])
    assert chosen["sent"] == {"sent": 2, "already": 0, "failed": []}
    assert [s["media_id"] for s in chosen["skipped"]] == [person]
    by_medium = {
        standin.subjects[s]["metadata"][MEDIA_ID_FIELD]: s
        for s in standin.set_members[next(iter(standin.set_members))]
    }
    assert set(by_medium) == {unsure, other}
    # Sent by hand, the person is refused before anything leaves.
    refused = await wl.client.post(
        f"/v1/citsci/subject-sets/{set_id}/zooniverse/send",
        json={"media_ids": [person]},
        headers=bearer(admin),
    )
    assert refused.status_code == 422, refused.text
    assert len(standin.uploads) == 2

    # A person labelled on a sent medium: retired in the workflow, never sent again.
    await _label_person(wl, admin, pid, unsure)

    async def retired() -> list[tuple[str, str]]:
        return list(standin.retired.get(WORKFLOW, []))

    assert await eventually(retired) == [(by_medium[unsure], "other")]
    again = await wl.client.post(
        f"/v1/citsci/subject-sets/{set_id}/zooniverse/send",
        json={"media_ids": [unsure]},
        headers=bearer(admin),
    )
    assert again.status_code == 422, again.text


async def test_a_video_becomes_one_clip_subject_of_its_frames(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites
) -> None:
    site = await new_site()
    pid = site.project_id
    body = await Uploads(wl.client, site.device_token)(
        data=video_bytes("mp4", seconds=3, fps=5),
        filename="pond.mp4",
        fields={"captured_at": "2021-04-02T06:00:00+01:00"},
    )
    video = str(body["media_id"])

    async def frames() -> list[dict[str, Any]] | None:
        page = await ok(
            await wl.client.get(f"/v1/projects/{pid}/media?limit=100", headers=bearer(admin)),
            200,
        )
        found = [m for m in page["items"] if m.get("kind") == "frame"]
        return found if len(found) == 3 else None

    cut = sorted(await eventually(frames, timeout=60), key=lambda m: m["offset_ms"])
    for m in cut:
        medium = await get_media(wl.client, admin, m["id"])
        assert medium is not None
        await eventually(partial(wl.platform.store.exists, display_key(medium["sha256"])))
    # No detector here: the video and its frames all wait as not analysed.
    set_id = await _set(wl, admin, pid)
    chosen = await _select(wl, admin, set_id, limit=10)
    (subject,) = chosen["subjects"]
    assert subject["media_ids"] == [m["id"] for m in cut]
    assert subject["clip"] == {"video_media_id": video, "start_s": 0.0, "end_s": 2.0}
    assert [r["reason"] for r in subject["reasons"]] == ["not_analysed"]

    volunteer = token(settings, "volunteer-1", {pid: "volunteer"})
    shown = (
        await ok(
            await wl.client.get(
                "/v1/citsci/subjects/next", params={"project_id": pid}, headers=bearer(volunteer)
            ),
            200,
        )
    )["subject"]
    assert [m["media_id"] for m in shown["media"]] == subject["media_ids"]
    assert (shown["clip_start_s"], shown["clip_end_s"]) == (0.0, 2.0)


async def test_a_video_goes_to_zooniverse_as_one_subject_of_its_frames(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites, standin: PanoptesStandIn
) -> None:
    site = await new_site()
    pid = site.project_id
    await Uploads(wl.client, site.device_token)(
        data=video_bytes("mp4", seconds=3, fps=5),
        filename="pond.mp4",
        fields={"captured_at": "2021-04-02T06:00:00+01:00"},
    )

    async def frames() -> list[dict[str, Any]] | None:
        page = await ok(
            await wl.client.get(f"/v1/projects/{pid}/media?limit=100", headers=bearer(admin)),
            200,
        )
        found = [m for m in page["items"] if m.get("kind") == "frame"]
        return found if len(found) == 3 else None

    cut = sorted(await eventually(frames, timeout=60), key=lambda m: m["offset_ms"])
    hashes = []
    for m in cut:
        medium = await get_media(wl.client, admin, m["id"])
        assert medium is not None
        hashes.append(medium["sha256"])
        await eventually(partial(wl.platform.store.exists, display_key(medium["sha256"])))
    set_id = await _set(
        wl,
        admin,
        pid,
        destination="zooniverse",
        zooniverse_project_id=PROJECT,
        zooniverse_workflow_id=WORKFLOW,
    )
    chosen = await _select(wl, admin, set_id, limit=10)
    (subject,) = chosen["subjects"]
    assert subject["media_ids"] == [m["id"] for m in cut]
    assert chosen["sent"] == {"sent": 1, "already": 0, "failed": []}

    # One Zooniverse subject shows the clip's frames, in order, each its display copy's bytes.
    (members,) = standin.set_members.values()
    (sent,) = members
    assert len(standin.subjects[sent]["locations"]) == 3
    uploads = standin.location_uploads[sent]
    assert [uploads[n][0] for n in range(3)] == [
        await wl.platform.store.get_bytes(display_key(h)) for h in hashes
    ]
    assert standin.subjects[sent]["metadata"][MEDIA_IDS_FIELD].split() == subject["media_ids"]
    # Selecting again chooses none of its frames.
    again = await _select(wl, admin, set_id, limit=10)
    assert again["subjects"] == []


async def test_hiding_people_later_withdraws_what_zooniverse_was_sent_with_people(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites, standin: PanoptesStandIn
) -> None:
    site = await new_site()
    pid = site.project_id
    days = [f"2021:05:{d:02d} 09:00:00" for d in range(1, 3)]
    person, heron = [
        await _photo(wl, admin, site.device_token, 60 + n, w) for n, w in enumerate(days)
    ]
    set_id = await _set(
        wl,
        admin,
        pid,
        destination="zooniverse",
        zooniverse_project_id=PROJECT,
        zooniverse_workflow_id=WORKFLOW,
    )
    sent = await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{set_id}/zooniverse/send",
            json={"media_ids": [person, heron]},
            headers=bearer(admin),
        ),
        200,
    )
    assert sent["sent"] == 2
    by_medium = {
        standin.subjects[s]["metadata"][MEDIA_ID_FIELD]: s
        for s in standin.set_members[next(iter(standin.set_members))]
    }
    # The detector sees a person while the project shows people: the subject stays (the
    # change handled by citsci before the project starts hiding people).
    handled = partial(processed_count, wl, "citsci", "citsci:observations.changed")
    before = await handled()
    await analyse(wl, admin, _analysis(person, pid, TORN, category="person"))

    async def seen() -> bool:
        return await handled() > before

    await eventually(seen)
    pulled = await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{set_id}/zooniverse/pull",
            json={"source": "recent"},
            headers=bearer(admin),
        ),
        200,
    )
    assert pulled["retired_on_zooniverse"] == 0
    assert WORKFLOW not in standin.retired

    # The project starts hiding people: the next pull retires that subject on Zooniverse,
    # and sending it again is refused.
    await _hide_people(wl, admin, pid)
    await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{set_id}/zooniverse/pull",
            json={"source": "recent"},
            headers=bearer(admin),
        ),
        200,
    )
    assert standin.retired[WORKFLOW] == [(by_medium[person], "other")]
    # Volunteers there still classified it meanwhile: the pull stores what they said and
    # makes no consensus of a subject withdrawn for its people.
    said = [{"task": "T0", "value": [{"choice": "NTHNGHR", "answers": {}, "filters": {}}]}]
    standin.serve_export(
        WORKFLOW,
        [
            ExportRow(
                classification_id=95_000 + n,
                subject_id=by_medium[person],
                workflow_id=WORKFLOW,
                annotations=said,
                user_name=f"watcher{n}",
                user_id=4000 + n,
                user_ip="192.0.2.9",
                created_at=f"2026-05-02 10:0{n}:00 UTC",
            )
            for n in range(6)
        ],
    )
    late = await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{set_id}/zooniverse/pull", headers=bearer(admin)
        ),
        200,
    )
    assert (late["stored"], late["retired"], late["updated"]) == (6, 0, 0)
    refused = await wl.client.post(
        f"/v1/citsci/subject-sets/{set_id}/zooniverse/send",
        json={"media_ids": [person]},
        headers=bearer(admin),
    )
    assert refused.status_code == 422, refused.text
    # Pulling or sending again tells Zooniverse nothing more.
    await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{set_id}/zooniverse/send",
            json={"media_ids": [heron]},
            headers=bearer(admin),
        ),
        200,
    )
    assert standin.retired[WORKFLOW] == [(by_medium[person], "other")]
