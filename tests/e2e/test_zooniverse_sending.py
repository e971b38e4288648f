"""Media sent to Zooniverse through panoptes-client, against a local stand-in for the Panoptes
API that records every call: subjects carry the display copy's bytes (never a link into our
storage, never GPS, never a place in their metadata), a re-run sends only what is missing and
survives a 504 halfway, retirement reaches the workflow, and what volunteers said comes back
mapped to our media; on both backends."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydantic import SecretStr
from sqlmodel import select

from tests.ingest.test_derivatives import GPS_IFD, gps_jpeg
from tests.support.api import Site, bearer, ok
from tests.support.factories import Sites, Tokens, Uploads
from tests.support.panoptes_standin import ExportRow, PanoptesStandIn, panoptes_standin
from tests.support.platform import RunningPlatform, SettingsFactory, eventually, get_media
from wildlens.citsci.models import ZooniverseClassification
from wildlens.citsci.settings import CitsciSettings, ZooniverseSettings
from wildlens.citsci.zooniverse import service as zooniverse
from wildlens.citsci.zooniverse.gateway import Zooniverse, ZooniverseError
from wildlens.common.errors import Conflict, NotFound, PayloadTooLarge
from wildlens.common.settings import Settings
from wildlens.common.storage import ObjectNotFound
from wildlens.ingest.derivatives.jobs import display_key

PROJECT, WORKFLOW = "4242", "777"


def _jpeg(shade: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (shade, 90, 40)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def standin() -> Iterator[PanoptesStandIn]:
    with panoptes_standin() as s:
        yield s


def _account(standin: PanoptesStandIn) -> ZooniverseSettings:
    return ZooniverseSettings(
        endpoint=standin.url,
        client_id="wildlens-app",
        client_secret=SecretStr("app-secret"),
        upload_attempts=2,
    )


@pytest.fixture
def settings(settings_for: SettingsFactory, standin: PanoptesStandIn) -> Settings:
    """The platform's Zooniverse account is the stand-in's."""
    return settings_for(citsci=CitsciSettings(zooniverse=_account(standin)))


def _gateway(standin: PanoptesStandIn) -> Zooniverse:
    return Zooniverse(_account(standin))


async def _zooniverse_set(wl: RunningPlatform, admin: str, project: str) -> uuid.UUID:
    body = {
        "project_id": project,
        "name": "Heron season",
        "destination": "zooniverse",
        "zooniverse_project_id": PROJECT,
        "zooniverse_workflow_id": WORKFLOW,
    }
    created = await ok(
        await wl.client.post("/v1/citsci/subject-sets", json=body, headers=bearer(admin)), 201
    )
    assert created["zooniverse_workflow_id"] == WORKFLOW
    return uuid.UUID(created["id"])


async def test_subjects_go_as_display_bytes_once_each_even_after_a_504(
    wl: RunningPlatform, admin: str, project: str, standin: PanoptesStandIn
) -> None:
    db = wl.platform.contexts["citsci"].db
    subject_set = await _zooniverse_set(wl, admin, project)
    media = [
        zooniverse.SubjectMedium(
            uuid.uuid4(), f"{n:064x}", datetime(2026, 5, n + 1, 4, 30, tzinfo=UTC)
        )
        for n in range(5)
    ]
    copies = {m.media_id: _jpeg(40 * n) for n, m in enumerate(media)}

    async def display(m: zooniverse.SubjectMedium) -> bytes:
        return copies[m.media_id]

    gateway = _gateway(standin)
    # The third subject's image gets a 504 on every try of this run.
    standin.fail_uploads[3] = 2
    report = await zooniverse.send(db, gateway, subject_set, media, display)
    assert (report.sent, report.already) == (4, 0)
    assert [m for m, _ in report.failed] == [media[2].media_id]

    # The set was made in the Zooniverse project and linked to the workflow once.
    (made,) = standin.subject_sets.values()
    assert made["links"]["project"] == PROJECT
    assert standin.workflow_sets[WORKFLOW] == [made["id"]]
    # Every request carried the OAuth token panoptes-client obtained.
    assert all(
        c.authorization == "Bearer stand-in-token"
        for c in standin.calls
        if c.path.startswith("/api/")
    )

    # A re-run sends only the missing one: the half-made subject is deleted there, made
    # again, and its bytes arrive.
    report = await zooniverse.send(db, gateway, subject_set, media, display)
    assert (report.sent, report.already, report.failed) == (1, 4, [])
    assert len(standin.api_calls("POST", "/subjects")) == 6
    assert len(standin.api_calls("DELETE", r"/subjects/\d+")) == 1
    report = await zooniverse.send(db, gateway, subject_set, media, display)
    assert (report.sent, report.already) == (0, 5)
    assert len(standin.api_calls("POST", "/subjects")) == 6

    # Each medium is exactly one subject of the set, holding its display copy's bytes.
    members = standin.set_members[made["id"]]
    assert len(members) == len(set(members)) == 5
    by_medium = {standin.subjects[s]["metadata"][zooniverse.MEDIA_ID_FIELD]: s for s in members}
    assert set(by_medium) == {str(m.media_id) for m in media}
    for m in media:
        data, content_type = standin.uploads[by_medium[str(m.media_id)]]
        assert (data, content_type) == (copies[m.media_id], "image/jpeg")
    # What panoptes-client sent names content types, never URLs, and no place.
    for call in standin.api_calls("POST", "/subjects"):
        sent = call.body["subjects"]
        assert sent["locations"] == ["image/jpeg"]
        assert set(sent["metadata"]) == {zooniverse.MEDIA_ID_FIELD, "#captured_at"}

    # Retired in Wildlens: retired in the workflow.
    retired = await zooniverse.retire(
        db, gateway, subject_set, [media[0].media_id, media[4].media_id], "consensus"
    )
    assert retired == 2
    assert sorted(standin.retired[WORKFLOW]) == sorted(
        (by_medium[str(m.media_id)], "consensus") for m in (media[0], media[4])
    )
    # A retired subject is not sent again either.
    report = await zooniverse.send(db, gateway, subject_set, media, display)
    assert (report.sent, report.already) == (0, 5)

    # Subjects named in what volunteers said map back to our media.
    mapped = await zooniverse.media_of_subjects(db, subject_set, [*by_medium.values(), "999999"])
    assert mapped == {s: uuid.UUID(m) for m, s in by_medium.items()}


async def test_the_classification_export_is_pulled_as_zooniverse_wrote_it(
    wl: RunningPlatform, admin: str, project: str, standin: PanoptesStandIn, tmp_path: Path
) -> None:
    db = wl.platform.contexts["citsci"].db
    subject_set = await _zooniverse_set(wl, admin, project)
    export = (
        b"classification_id,user_name,user_id,user_ip,workflow_id,workflow_name,workflow_version,"
        b"created_at,gold_standard,expert,metadata,annotations,subject_data,subject_ids\r\n"
        b'1,vol1,11,abc123,777,Herons,3.1,2026-05-01 10:00:00 UTC,,,{},"[{""task"":""T0"",'
        b'""value"":[{""choice"":""HRN"",""answers"":{""HWMN"":""1""},""filters"":{}}]}]",'
        b'"{""1001"":{""retired"":null}}",1001\r\n'
    )
    standin.exports[WORKFLOW] = export
    path = tmp_path / "classifications.csv"
    size = await zooniverse.pull_classification_export(
        db, _gateway(standin), subject_set, path, generate=True
    )
    assert size == len(export)
    assert path.read_bytes() == export
    assert standin.api_calls("POST", rf"/workflows/{WORKFLOW}/classifications_export")


async def test_sending_refuses_what_is_not_for_zooniverse_and_keeps_going_without_copies(
    wl: RunningPlatform, admin: str, project: str, standin: PanoptesStandIn
) -> None:
    db = wl.platform.contexts["citsci"].db
    builtin = await ok(
        await wl.client.post(
            "/v1/citsci/subject-sets",
            json={"project_id": project, "name": "In house"},
            headers=bearer(admin),
        ),
        201,
    )
    gateway = _gateway(standin)

    async def none_yet(m: zooniverse.SubjectMedium) -> bytes:
        raise ObjectNotFound(m.sha256)

    medium = zooniverse.SubjectMedium(uuid.uuid4(), "ab" * 32)

    with pytest.raises(Conflict, match="not Zooniverse"):
        await zooniverse.send(db, gateway, uuid.UUID(builtin["id"]), [medium], none_yet)
    with pytest.raises(NotFound):
        await zooniverse.send(db, gateway, uuid.uuid4(), [medium], none_yet)
    subject_set = await _zooniverse_set(wl, admin, project)
    report = await zooniverse.send(db, gateway, subject_set, [medium], none_yet)
    assert report.failed == [(medium.media_id, "its display copy is not made yet")]
    assert not standin.api_calls("POST", "/subjects")

    # A Zooniverse set must name its project and workflow; a built-in one names neither.
    for body in (
        {"project_id": project, "name": "x", "destination": "zooniverse"},
        {"project_id": project, "name": "x", "zooniverse_workflow_id": WORKFLOW},
        {
            "project_id": project,
            "name": "x",
            "destination": "zooniverse",
            "zooniverse_project_id": "12a",
            "zooniverse_workflow_id": WORKFLOW,
        },
    ):
        refused = await wl.client.post("/v1/citsci/subject-sets", json=body, headers=bearer(admin))
        assert refused.status_code == 422, refused.text

    # No credentials: a clear refusal before anything is sent.
    with pytest.raises(ZooniverseError, match="no Zooniverse credentials"):
        Zooniverse(ZooniverseSettings(endpoint=standin.url))


async def test_a_manager_sends_uploaded_media_through_the_api_without_their_gps(
    wl: RunningPlatform,
    admin: str,
    site: Site,
    upload: Uploads,
    standin: PanoptesStandIn,
    token_for: Tokens,
) -> None:
    subject_set = await _zooniverse_set(wl, admin, site.project_id)
    sent: list[str] = []
    for n in range(2):
        body = await ok(await upload.post(data=gps_jpeg(size=(320 + n, 200))), 202)
        await eventually(partial(wl.platform.store.exists, display_key(body["sha256"])))
        # The copy can be made before the catalogue has recorded the medium.
        await eventually(partial(get_media, wl.client, admin, body["media_id"]))
        sent.append(body["media_id"])
    route = f"/v1/citsci/subject-sets/{subject_set}/zooniverse/send"

    answer = await ok(
        await wl.client.post(route, json={"media_ids": sent}, headers=bearer(admin)), 200
    )
    assert answer == {"sent": 2, "already": 0, "failed": []}
    assert len(standin.uploads) == 2
    for data, _ in standin.uploads.values():
        with Image.open(io.BytesIO(data)) as image:
            assert not image.getexif().get_ifd(GPS_IFD)
    again = await ok(
        await wl.client.post(route, json={"media_ids": sent}, headers=bearer(admin)), 200
    )
    assert again == {"sent": 0, "already": 2, "failed": []}

    # Media of another project, or none at all: refused, each named, nothing sent.
    other = await Sites(wl.client, admin)(name="elsewhere")
    foreign = await ok(await Uploads(wl.client, other.device_token).post(data=gps_jpeg()), 202)
    refused = await wl.client.post(
        route, json={"media_ids": [sent[0], foreign["media_id"]]}, headers=bearer(admin)
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["fields"][0]["location"] == ["body", "media_ids", 1]
    bad: dict[str, Any]
    for bad in ({"media_ids": []}, {"media_ids": [sent[0], sent[0]]}, {"media": sent}):
        assert (await wl.client.post(route, json=bad, headers=bearer(admin))).status_code == 422
    assert len(standin.api_calls("POST", "/subjects")) == 2

    # Only the project's managers send.
    viewer = token_for("viewer-1", {site.project_id: "viewer"})
    assert (
        await wl.client.post(route, json={"media_ids": sent}, headers=bearer(viewer))
    ).status_code == 403
    stranger = token_for("stranger-1", {str(uuid.uuid4()): "admin"})
    assert (
        await wl.client.post(route, json={"media_ids": sent}, headers=bearer(stranger))
    ).status_code == 404


async def test_an_event_goes_as_one_subject_of_all_its_frames_even_after_a_504_on_one(
    wl: RunningPlatform, admin: str, project: str, standin: PanoptesStandIn
) -> None:
    ctx = wl.platform.contexts["citsci"]
    db = ctx.db
    subject_set = await _zooniverse_set(wl, admin, project)
    when = datetime(2026, 5, 1, 4, 30, tzinfo=UTC)
    event = [zooniverse.SubjectMedium(uuid.uuid4(), f"{n:064x}", when) for n in range(3)]
    single = zooniverse.SubjectMedium(uuid.uuid4(), f"{9:064x}", when)
    copies = {m.media_id: _jpeg(50 * n) for n, m in enumerate([*event, single])}

    async def display(m: zooniverse.SubjectMedium) -> bytes:
        return copies[m.media_id]

    gateway = _gateway(standin)
    # The event's second image gets a 504 on every try of this run.
    standin.fail_location_uploads[(1, 1)] = 2
    report = await zooniverse.send(db, gateway, subject_set, [event, single], display)
    assert (report.sent, report.already) == (1, 0)
    assert [m for m, _ in report.failed] == [event[0].media_id]
    # A re-run makes the half-made subject again whole; a third sends nothing.
    report = await zooniverse.send(db, gateway, subject_set, [event, single], display)
    assert (report.sent, report.already, report.failed) == (1, 1, [])
    assert len(standin.api_calls("DELETE", r"/subjects/\d+")) == 1
    report = await zooniverse.send(db, gateway, subject_set, [event, [single]], display)
    assert (report.sent, report.already) == (0, 2)
    # A frame of the event sent alone is the event's subject, not a new one.
    report = await zooniverse.send(db, gateway, subject_set, [event[2]], display)
    assert (report.sent, report.already) == (0, 1)
    assert len(standin.api_calls("POST", "/subjects")) == 3

    (made,) = standin.subject_sets.values()
    members = standin.set_members[made["id"]]
    assert len(members) == 2
    (subject,) = [s for s in members if len(standin.subjects[s]["locations"]) == 3]
    # Every frame's display copy arrived as bytes at its own location, in order.
    assert standin.location_uploads[subject] == {
        n: (copies[m.media_id], "image/jpeg") for n, m in enumerate(event)
    }
    metadata = standin.subjects[subject]["metadata"]
    assert metadata[zooniverse.MEDIA_ID_FIELD] == str(event[0].media_id)
    assert metadata[zooniverse.MEDIA_IDS_FIELD].split() == [str(m.media_id) for m in event]

    # A box a volunteer draws on the third frame lands on the third medium.
    standin.classifications = [
        ExportRow(
            classification_id=70_001,
            subject_id=subject,
            workflow_id=WORKFLOW,
            annotations=[
                {"task": "T0", "value": []},
                {
                    "task": "T1",
                    "value": [{"tool": 0, "x": 8, "y": 6, "width": 16, "height": 12, "frame": 2}],
                },
            ],
            user_name="heronwatcher",
            user_id=3001,
            user_ip="10.1.2.3",
            created_at="2026-05-02 10:00:00 UTC",
        ).resource()
    ]
    pulled = await zooniverse.pull(
        db, ctx.service_bus, gateway, subject_set, {}, generate=False, recent=True
    )
    assert pulled.report.stored == 1
    async with db.transaction() as session:
        (stored,) = (await session.exec(select(ZooniverseClassification))).all()
    assert [b["media_id"] for b in stored.boxes] == [str(event[2].media_id)]

    # Retiring any of its media retires the event's subject.
    assert await zooniverse.retire(db, gateway, subject_set, [event[1].media_id], "other") == 1
    assert standin.retired[WORKFLOW] == [(subject, "other")]


async def test_pulls_past_their_limits_are_refused_naming_them_and_store_nothing(
    wl: RunningPlatform, admin: str, project: str, standin: PanoptesStandIn
) -> None:
    ctx = wl.platform.contexts["citsci"]
    db = ctx.db
    subject_set = await _zooniverse_set(wl, admin, project)
    medium = zooniverse.SubjectMedium(uuid.uuid4(), "cd" * 32)

    async def display(m: zooniverse.SubjectMedium) -> bytes:
        return _jpeg(10)

    await zooniverse.send(db, _gateway(standin), subject_set, [medium], display)
    (subject,) = standin.subjects
    rows = [
        ExportRow(
            classification_id=80_000 + n,
            subject_id=subject,
            workflow_id=WORKFLOW,
            annotations=[{"task": "T0", "value": []}],
            user_name=f"watcher{n}",
            user_id=4000 + n,
            user_ip="10.0.0.1",
            created_at=f"2026-05-02 10:{n:02d}:00 UTC",
        )
        for n in range(12)
    ]
    standin.serve_export(WORKFLOW, rows)
    assert len(standin.exports[WORKFLOW]) > 2048
    standin.classifications = [r.resource() for r in rows]
    standin.listing_page_size = 5
    limited = Zooniverse(
        _account(standin).model_copy(
            update={"export_max_bytes": 2048, "recent_max_classifications": 10}
        )
    )

    async def stored() -> int:
        async with db.transaction() as session:
            return len((await session.exec(select(ZooniverseClassification))).all())

    with pytest.raises(PayloadTooLarge, match="EXPORT_MAX_BYTES") as refused:
        await zooniverse.pull(db, ctx.service_bus, limited, subject_set, {}, generate=False)
    assert refused.value.status_code == 413
    assert "2048 bytes" in str(refused.value.detail)
    with pytest.raises(PayloadTooLarge, match="RECENT_MAX_CLASSIFICATIONS"):
        await zooniverse.pull(
            db, ctx.service_bus, limited, subject_set, {}, generate=False, recent=True
        )
    assert await stored() == 0
    # Read page by page, and no further than the limit.
    assert standin.listing_pages == 3

    # Within the limits, the listing's pages are all read.
    standin.listing_pages = 0
    roomy = Zooniverse(_account(standin).model_copy(update={"recent_max_classifications": 12}))
    pulled = await zooniverse.pull(
        db, ctx.service_bus, roomy, subject_set, {}, generate=False, recent=True
    )
    assert (pulled.report.stored, standin.listing_pages) == (12, 3)
    assert await stored() == 12
