"""Zooniverse's half of the loop, through the API on both backends, against the stand-in
Panoptes: media analysed by a model are sent to a Zooniverse subject set, volunteers'
classifications come back in Zooniverse's real export layout and are pulled, stored once
each and never with the volunteers' IP addresses; the set's rules retire subjects, which are
retired on Zooniverse too (a refused call is tried again by the next pull); their consensus
becomes the catalogue's observation by volunteer consensus, updated (never duplicated) when
late classifications arrive, and a training dataset that asks for it selects it. A medium an
expert validates is retired on Zooniverse; an export that cannot be read stores nothing, and a
malformed classification is named and left out while the rest are pulled."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pydantic import SecretStr
from sqlalchemy import select

from tests.e2e.test_builtin_volunteers import HERON, RULES, _photos
from tests.e2e.test_classification import TREE
from tests.e2e.test_taxa import import_tree
from tests.e2e.test_verification import analyse
from tests.e2e.test_volunteer_consensus import torn_analysis
from tests.support.api import bearer, ok
from tests.support.factories import Sites
from tests.support.panoptes_standin import ExportRow, PanoptesStandIn, panoptes_standin
from tests.support.platform import (
    RunningPlatform,
    SettingsFactory,
    eventually,
    get_media,
    user_token,
)
from wildlens.citsci.settings import CitsciSettings, ZooniverseSettings
from wildlens.citsci.zooniverse.service import MEDIA_ID_FIELD
from wildlens.common.settings import Settings
from wildlens.common.storage.layout import display_key

pytestmark = pytest.mark.services("catalogue", "ingest", "inference", "training", "citsci")

PROJECT, WORKFLOW = "4242", "777"
# Addresses of the documentation ranges: the export carries them, nothing of ours may.
IPS = [f"198.51.100.{n}" for n in range(10, 20)]
HERON_CHOICE = "ARDEACINEREA"
BOX = (0.3, 0.25, 0.25, 0.4)


@pytest.fixture
def standin() -> Iterator[PanoptesStandIn]:
    with panoptes_standin() as s:
        yield s


@pytest.fixture
def sync_every() -> float:
    """How often citsci pulls and retries retirements by itself (0: only when asked)."""
    return 0.0


@pytest.fixture
def settings(
    settings_for: SettingsFactory,
    detector: Path | None,
    standin: PanoptesStandIn,
    sync_every: float,
) -> Settings:
    account = ZooniverseSettings(
        endpoint=standin.url,
        client_id="wildlens-app",
        client_secret=SecretStr("app-secret"),
        upload_attempts=2,
        pull_interval_s=sync_every,
        retire_retry_s=sync_every,
    )
    return settings_for(detector=detector, citsci=CitsciSettings(zooniverse=account))


class Volunteers:
    """Classifications as Zooniverse exports them, each with its own id and address."""

    def __init__(self) -> None:
        self.rows: list[ExportRow] = []

    def classify(
        self, subject: str, media_id: str, annotations: list[dict[str, Any]], n: int
    ) -> None:
        logged_in = n % 3 != 2
        self.rows.append(
            ExportRow(
                classification_id=90_000 + len(self.rows),
                subject_id=subject,
                workflow_id=WORKFLOW,
                annotations=annotations,
                user_name=f"heronwatcher{n}" if logged_in else f"not-logged-in-5f2a{n}",
                user_id=3000 + n if logged_in else None,
                user_ip=IPS[n],
                created_at=f"2026-05-0{1 + len(self.rows) % 9} 10:{len(self.rows):02d}:00 UTC",
                subject_data={MEDIA_ID_FIELD: media_id},
            )
        )


def _heron(size: tuple[int, int]) -> list[dict[str, Any]]:
    width, height = size
    x, y, w, h = BOX
    return [
        {
            "task": "T0",
            "value": [
                {
                    "choice": HERON_CHOICE,
                    "answers": {"HOWMANY": "1", "WHATBEHAVIORSDOYOUSEE": ["FORAGING"]},
                    "filters": {},
                }
            ],
        },
        {
            "task": "T1",
            "value": [
                {
                    "tool": 0,
                    "x": x * width,
                    "y": y * height,
                    "width": w * width,
                    "height": h * height,
                    "frame": 0,
                }
            ],
        },
    ]


NOTHING = [{"task": "T0", "value": []}]
NOTHING_CHOSEN = [{"task": "T0", "value": [{"choice": "NTHNGHR", "answers": {}, "filters": {}}]}]


async def _pull(wl: RunningPlatform, token: str, set_id: str, status: int = 200) -> Any:
    return await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{set_id}/zooniverse/pull",
            json={"generate": True},
            headers=bearer(token),
        ),
        status,
    )


async def _volunteer_observations(wl: RunningPlatform, admin: str, pid: str) -> list[Any]:
    page = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/observations",
            params={"classification_method": "human", "limit": 100},
            headers=bearer(admin),
        ),
        200,
    )
    return [o for o in page["items"] if o["classified_by"].startswith("volunteers:zooniverse")]


async def _citsci_text(wl: RunningPlatform) -> str:
    """Every row of every citsci table, as text."""
    ctx = wl.platform.contexts["citsci"]
    texts = []
    async with ctx.database.transaction() as session:
        connection = await session.connection()
        for table in ctx.spec.metadata.sorted_tables:
            for row in (await connection.execute(select(table))).all():
                texts.append(repr(tuple(row)))
    return "\n".join(texts)


async def _sent(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites, n: int
) -> tuple[str, dict[str, str], list[str], str, str]:
    """Project, taxa, ``n`` analysed media in a Zooniverse set with RULES, sent: the
    project, the taxa's ids, the media, the set and a manager's token."""
    taxa = await import_tree(wl.client, admin, TREE)
    site = await new_site()
    pid = site.project_id
    await ok(
        await wl.client.put(
            f"/v1/projects/{pid}/taxa",
            json={"taxon_ids": [taxa[HERON], taxa["Ardea alba"]]},
            headers=bearer(admin),
        ),
        200,
    )
    media = await _photos(wl, admin, site.device_token, n)
    await analyse(wl, admin, *(torn_analysis(m, pid) for m in media))
    manager = user_token(settings, "manager-1", {pid: "manager"})

    # A Zooniverse set with the project's rules; its media go as display bytes.
    created = await ok(
        await wl.client.post(
            "/v1/citsci/subject-sets",
            json={
                "project_id": pid,
                "name": "Pond herons",
                "destination": "zooniverse",
                "zooniverse_project_id": PROJECT,
                "zooniverse_workflow_id": WORKFLOW,
                "retirement_rules": RULES,
            },
            headers=bearer(manager),
        ),
        201,
    )
    set_id = created["id"]
    for m in media:
        medium = await get_media(wl.client, admin, m)
        assert medium is not None
        await eventually(partial(wl.platform.store.exists, display_key(medium["sha256"])))
    sent = await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{set_id}/zooniverse/send",
            json={"media_ids": media},
            headers=bearer(manager),
        ),
        200,
    )
    assert sent == {"sent": n, "already": 0, "failed": []}
    return pid, taxa, media, set_id, manager


def _subjects(standin: PanoptesStandIn) -> dict[str, str]:
    """Zooniverse's subject of each medium sent."""
    return {
        s["metadata"][MEDIA_ID_FIELD]: sid
        for sid, s in standin.subjects.items()
        if sid in standin.uploads
    }


async def test_zooniverse_volunteers_retire_subjects_into_observations_a_dataset_selects(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites, standin: PanoptesStandIn
) -> None:
    pid, taxa, (heron, empty, judged), set_id, manager = await _sent(
        wl, settings, admin, new_site, 3
    )
    subject = _subjects(standin)
    with Image.open(io.BytesIO(standin.uploads[subject[heron]][0])) as shown:
        size = shown.size

    # Three volunteers name the heron (one not logged in), three see nothing in the other,
    # one classifies the third; and one classification of a subject made on Zooniverse.
    volunteers = Volunteers()
    for n in range(3):
        volunteers.classify(subject[heron], heron, _heron(size), n)
        volunteers.classify(subject[empty], empty, NOTHING if n else NOTHING_CHOSEN, 3 + n)
    volunteers.classify(subject[judged], judged, _heron(size), 6)
    volunteers.classify("55555", str(uuid.uuid4()), NOTHING, 7)
    standin.serve_export(WORKFLOW, volunteers.rows)
    # Zooniverse refuses the first retirement call: its subject waits for the next pull.
    standin.fail_retirements = 1

    first = await _pull(wl, manager, set_id)
    assert first == {
        "classifications": 8,
        "stored": 7,
        "already": 0,
        "other_subjects": 1,
        "retired": 2,
        "updated": 0,
        # One call per reason; Zooniverse refused the first.
        "retired_on_zooniverse": 1,
        "retirement_waiting": 1,
        "malformed": 0,
        "problems": [],
    }
    assert standin.api_calls("POST", rf"/workflows/{WORKFLOW}/classifications_export")
    assert len(standin.retired[WORKFLOW]) == 1

    # Pulled again: nothing twice, and the waiting retirements reach Zooniverse.
    again = await _pull(wl, manager, set_id)
    assert (again["stored"], again["already"], again["retired"], again["updated"]) == (0, 7, 0, 0)
    assert (again["retired_on_zooniverse"], again["retirement_waiting"]) == (1, 0)
    assert sorted(standin.retired[WORKFLOW]) == sorted(
        [(subject[heron], "consensus"), (subject[empty], "nothing_here")]
    )

    # The consensus comes back as observations classified by the Zooniverse volunteers.
    async def written() -> list[Any] | None:
        found = await _volunteer_observations(wl, admin, pid)
        return found if len(found) == 2 else None

    by_medium = {o["media_id"]: o for o in await eventually(written)}
    observation = by_medium[heron]
    assert (observation["scientific_name"], observation["taxon_id"]) == (HERON, taxa[HERON])
    assert observation["classified_by"] == f"volunteers:zooniverse:{set_id}"
    assert by_medium[empty]["observation_type"] == "blank"
    state = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/observations/{observation['id']}", headers=bearer(admin)
        ),
        200,
    )
    provenance = state["consensus"]
    assert provenance["consensus_id"] == f"zooniverse:{WORKFLOW}:{subject[heron]}"
    assert (provenance["votes"], provenance["classification_count"]) == (3, 3)
    assert provenance["retirement_reason"] == "consensus"
    assert provenance["boxes"][0]["bbox"] == pytest.approx(list(BOX), abs=0.01)
    assert state["count"] == 1

    # A late classification of the retired heron: the consensus is updated, not duplicated.
    volunteers.classify(subject[heron], heron, NOTHING, 8)
    standin.serve_export(WORKFLOW, volunteers.rows)
    late = await _pull(wl, manager, set_id)
    assert (late["stored"], late["already"], late["retired"], late["updated"]) == (1, 7, 0, 1)

    async def updated() -> dict[str, Any] | None:
        found = await _volunteer_observations(wl, admin, pid)
        heron_found = [o for o in found if o["media_id"] == heron]
        assert len(heron_found) == 1
        state = await ok(
            await wl.client.get(
                f"/v1/projects/{pid}/observations/{heron_found[0]['id']}", headers=bearer(admin)
            ),
            200,
        )
        return state if state["consensus"]["classification_count"] == 4 else None

    assert (await eventually(updated))["consensus"]["votes"] == 3

    # A dataset that takes the volunteers' consensus selects the heron.
    spec: dict[str, Any] = {
        "classes": {"heron": {"taxa": [{"name": "Ardea", "rank": "genus"}]}},
        "min_count": 1,
        "confirmed_by": ["volunteer_consensus"],
    }
    dataset = await ok(
        await wl.client.post(
            "/v1/datasets", json={"project_id": pid, "label_spec": spec}, headers=bearer(admin)
        ),
        201,
    )
    manifest = await ok(
        await wl.client.get(f"/v1/datasets/{dataset['id']}/manifest", headers=bearer(admin)), 200
    )
    assert [s["media_id"] for s in manifest["samples"]] == [heron]

    # An expert validates the third medium: its subject is retired on Zooniverse.
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/media/{judged}/observations",
            json={"observation_type": "animal", "scientific_name": HERON},
            headers=bearer(admin),
        ),
        201,
    )

    async def expert_retired() -> bool:
        return (subject[judged], "other") in standin.retired[WORKFLOW]

    await eventually(expert_retired)

    # An export that stops being CSV halfway: refused naming the line, and the new
    # classifications before that line are not stored either.
    for n in range(3):
        volunteers.classify(subject[judged], judged, _heron(size), n)
    standin.serve_export(WORKFLOW, volunteers.rows)
    good = standin.exports[WORKFLOW]
    standin.exports[WORKFLOW] = good + b'99998,"never closed\r\n'
    refused = await _pull(wl, manager, set_id, 422)
    assert refused["detail"] == "line 14: not readable as CSV (unexpected end of data)", refused
    # One malformed row among good ones (a row cut short, as exports of interrupted sessions
    # have): the good ones are pulled, the bad one is named and left out.
    standin.exports[WORKFLOW] = good + b'99999,cutter,1,198.51.100.99,777,"Pond survey"\r\n'
    after = await _pull(wl, manager, set_id)
    assert (after["stored"], after["already"], after["retired"]) == (3, 8, 0)
    assert after["malformed"] == 1
    assert after["problems"] == ["line 14: 6 fields where the header has 14"], after
    # Pulled again, it is named again, and nothing else changes.
    again = await _pull(wl, manager, set_id)
    assert (again["stored"], again["already"], again["malformed"]) == (0, 11, 1)
    standin.exports[WORKFLOW] = good

    # Only what is new, from Zooniverse's API without an export: a late classification of the
    # blank subject updates its consensus.
    volunteers.classify(subject[empty], empty, _heron(size), 9)
    # Listed after it, one whose annotations are not a list of tasks: left out and named, so
    # that it does not keep every later pull from storing anything.
    broken = volunteers.rows[-1].resource() | {"id": str(volunteers.rows[-1].classification_id + 1)}
    broken["annotations"] = "T0: heron"
    standin.classifications = [r.resource() for r in volunteers.rows] + [broken]
    recent = await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{set_id}/zooniverse/pull",
            json={"source": "recent"},
            headers=bearer(manager),
        ),
        200,
    )
    assert (recent["classifications"], recent["stored"], recent["updated"]) == (1, 1, 1)
    assert recent["malformed"] == 1
    (problem,) = recent["problems"]
    assert problem.startswith(f"classification {broken['id']}: "), problem
    (listing,) = standin.api_calls("GET", "/classifications/project")
    assert listing.query["last_id"] == [str(volunteers.rows[-2].classification_id)]

    # Only the project's managers pull; the volunteers' addresses are nowhere.
    viewer = user_token(settings, "viewer-1", {pid: "viewer"})
    await _pull(wl, viewer, set_id, 403)
    stored = await _citsci_text(wl)
    assert "zooniverse" in stored.casefold()
    assert not [ip for ip in [*IPS, "198.51.100.99"] if ip in stored]
    # Nor the names, nor the hash of the address Zooniverse names anonymous volunteers by.
    assert "heronwatcher" not in stored
    assert "not-logged-in-" not in stored


@pytest.mark.parametrize("sync_every", [0.3])
async def test_citsci_pulls_by_itself_and_tells_zooniverse_again_what_it_refused(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites, standin: PanoptesStandIn
) -> None:
    pid, _, (heron,), _, _ = await _sent(wl, settings, admin, new_site, 1)
    subject = _subjects(standin)[heron]
    volunteers = Volunteers()
    for n in range(3):
        volunteers.classify(subject, heron, _heron((160, 120)), n)
    # Zooniverse refuses the first retirement: a later round tells it again.
    standin.fail_retirements = 1
    standin.serve_export(WORKFLOW, volunteers.rows)

    async def retired() -> bool:
        return standin.retired.get(WORKFLOW) == [(subject, "consensus")]

    await eventually(retired)
    assert len(standin.api_calls("POST", rf"/workflows/{WORKFLOW}/retired_subjects")) == 2

    async def written() -> list[Any] | None:
        return await _volunteer_observations(wl, admin, pid) or None

    (observation,) = await eventually(written)
    assert (observation["media_id"], observation["scientific_name"]) == (heron, HERON)
