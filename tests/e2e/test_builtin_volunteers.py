"""Wildlens' own volunteers, through the API on both backends: media analysed by a model
become subjects of a built-in set, volunteers (each with their own token) are served subjects
they have not classified as display copies only, classify them once each, the set's rules
retire a subject, its consensus goes out as ``citsci.consensus`` and comes back as a
catalogue observation classified by volunteer consensus, which a training dataset that asks
for it selects; media an expert validated stop going to volunteers and measure them as gold
standard instead."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_classification import TREE
from tests.e2e.test_datasets import _image
from tests.e2e.test_taxa import import_tree
from tests.e2e.test_verification import analyse
from tests.e2e.test_volunteer_consensus import torn_analysis
from tests.support.api import bearer, ok, post_media
from tests.support.factories import Sites
from tests.support.platform import (
    RunningPlatform,
    SettingsFactory,
    download,
    eventually,
    get_media,
    user_token,
)
from wildlens.citsci.settings import CitsciSettings, VolunteerSettings
from wildlens.common.events.v1.observations_pb2 import ChangeCause, ObservationsChanged
from wildlens.common.settings import Settings
from wildlens.common.storage.layout import display_key

pytestmark = pytest.mark.services("catalogue", "ingest", "inference", "training", "citsci")

HERON = "Ardea cinerea"
BOX = {"x": 0.3, "y": 0.25, "width": 0.25, "height": 0.4}
# Three volunteers agreeing retire a subject; so do three saying nothing is there.
RULES = {"first_blank": 3, "total_blank": 3, "agreement": 3, "max_classifications": 5}


@pytest.fixture
def settings(settings_for: SettingsFactory, detector: Path | None) -> Settings:
    """Every subject served is gold standard while one waits: the mix is predictable."""
    return settings_for(
        detector=detector,
        citsci=CitsciSettings(volunteers=VolunteerSettings(gold_standard_rate=1.0)),
    )


async def _photos(wl: RunningPlatform, admin: str, device_token: str, n: int) -> list[str]:
    ids = []
    for k in range(n):
        data = _image(0, 500 + k, (0.3, 0.25, 0.25, 0.4), f"2021:04:0{k + 1} 09:00:00")
        accepted = await ok(await post_media(wl.client, device_token, data=data), 202)
        ids.append(accepted["media_id"])
    for m in ids:
        await eventually(partial(get_media, wl.client, admin, m))
    return ids


async def _builtin_set(wl: RunningPlatform, manager: str, pid: str) -> str:
    created = await ok(
        await wl.client.post(
            "/v1/citsci/subject-sets",
            json={"project_id": pid, "name": "Pond herons", "retirement_rules": RULES},
            headers=bearer(manager),
        ),
        201,
    )
    assert created["retirement_rules"] == RULES
    return str(created["id"])


async def _next(wl: RunningPlatform, token: str, pid: str) -> dict[str, Any] | None:
    answer = await ok(
        await wl.client.get(
            "/v1/citsci/subjects/next", params={"project_id": pid}, headers=bearer(token)
        ),
        200,
    )
    subject: dict[str, Any] | None = answer["subject"]
    return subject


async def _classify(
    wl: RunningPlatform, token: str, subject_id: str, body: dict[str, Any], status: int = 201
) -> dict[str, Any]:
    return dict(
        await ok(
            await wl.client.post(
                f"/v1/citsci/subjects/{subject_id}/classifications",
                json=body,
                headers=bearer(token),
            ),
            status,
        )
    )


async def test_volunteers_retire_a_subject_into_an_observation_a_dataset_selects(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites
) -> None:
    taxa = await import_tree(wl.client, admin, TREE)
    site = await new_site()
    pid = site.project_id
    # Volunteers choose from the taxa the project expects.
    await ok(
        await wl.client.put(
            f"/v1/projects/{pid}/taxa",
            json={"taxon_ids": [taxa[HERON], taxa["Ardea alba"]]},
            headers=bearer(admin),
        ),
        200,
    )
    heron, other = await _photos(wl, admin, site.device_token, 2)
    await analyse(wl, admin, torn_analysis(heron, pid), torn_analysis(other, pid))
    manager = user_token(settings, "manager-1", {pid: "manager"})
    volunteers = [user_token(settings, f"volunteer-{n}", {pid: "volunteer"}) for n in range(4)]

    set_id = await _builtin_set(wl, manager, pid)
    body = {"subjects": [{"media_ids": [heron]}, {"media_ids": [other]}]}
    path = f"/v1/citsci/subject-sets/{set_id}/subjects"
    made = await ok(await wl.client.post(path, json=body, headers=bearer(manager)), 201)
    assert [s["state"] for s in made["created"]] == ["active", "active"]
    first, second = (s["id"] for s in made["created"])
    again = await ok(await wl.client.post(path, json=body, headers=bearer(manager)), 201)
    assert (again["created"], again["already"]) == ([], 2)
    # Volunteers cannot make subjects; a medium of no project is named in the refusal.
    await ok(await wl.client.post(path, json=body, headers=bearer(volunteers[0])), 403)
    stray = {"subjects": [{"media_ids": [heron, "00000000-0000-4000-8000-000000000000"]}]}
    refused = await ok(await wl.client.post(path, json=stray, headers=bearer(manager)), 422)
    assert refused["fields"][0]["location"] == ["body", "subjects", 0, "media_ids", 1]

    # Each volunteer is served the oldest subject first, as its display copy only.
    heron_media = await get_media(wl.client, admin, heron)
    assert heron_media is not None
    for n, token in enumerate(volunteers[:3]):
        shown = await _next(wl, token, pid)
        assert shown is not None
        assert shown["id"] == first
        (medium,) = shown["media"]
        assert set(medium) == {"media_id", "display_url"}
        assert display_key(heron_media["sha256"]) in medium["display_url"]
        copy = await download(wl, medium["display_url"])
        assert copy.status_code == 200
        assert copy.content[:2] == b"\xff\xd8"
        answer = await _classify(
            wl,
            token,
            first,
            {
                "taxa": [{"scientific_name": HERON, "count": 1, "behaviours": ["foraging"]}],
                "boxes": [{"media_id": heron, **BOX}],
            },
        )
        # The third agreeing volunteer retires it.
        assert (answer["retired"], answer["subject_state"]) == (
            (True, "retired") if n == 2 else (False, "active")
        )
        if n == 0:
            off_list = await _classify(
                wl, volunteers[3], first, {"taxa": [{"scientific_name": "Anas platyrhynchos"}]}, 422
            )
            assert off_list["fields"][0]["location"] == ["body", "taxa", 0, "scientific_name"]
            twice = await _classify(wl, token, first, {"nothing_here": True}, 409)
            assert "already" in twice["detail"]
            # They are not served it again: the next is the other subject.
            later = await _next(wl, token, pid)
            assert later is not None
            assert later["id"] == second
    # Retired, it goes to nobody; a late classification is refused.
    fourth = await _next(wl, volunteers[3], pid)
    assert fourth is not None
    assert fourth["id"] == second
    await _classify(wl, volunteers[3], first, {"nothing_here": True}, 409)
    bad = await _classify(
        wl, volunteers[3], second, {"taxa": [{"scientific_name": HERON}], "nothing_here": True}, 422
    )
    assert "not both" in str(bad)

    # The consensus comes back as the catalogue's observation by volunteer consensus.
    async def written() -> dict[str, Any] | None:
        page = await ok(
            await wl.client.get(
                f"/v1/projects/{pid}/observations",
                params={"classification_method": "human", "limit": 100},
                headers=bearer(admin),
            ),
            200,
        )
        found = [o for o in page["items"] if o["classified_by"].startswith("volunteers:wildlens")]
        return found[0] if found else None

    observation = await eventually(written)
    assert (observation["media_id"], observation["scientific_name"]) == (heron, HERON)
    assert observation["classification_method"] == "human"
    assert observation["taxon_id"] == taxa[HERON]
    state = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/observations/{observation['id']}", headers=bearer(admin)
        ),
        200,
    )
    provenance = state["consensus"]
    assert provenance["subject_id"] == first
    assert (provenance["votes"], provenance["classification_count"]) == (3, 3)
    assert provenance["retirement_reason"] == "consensus"
    assert provenance["boxes"][0]["bbox"] == pytest.approx([0.3, 0.25, 0.25, 0.4])
    assert state["count"] == 1
    assert state["behavior"] == "foraging"

    # A dataset that takes the volunteers' consensus selects it; one of experts' only cannot.
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
    assert [s["observation_id"] for s in manifest["samples"]] == [observation["id"]]

    # Each volunteer's own stats, and the project's progress.
    stats = await ok(
        await wl.client.get(
            "/v1/citsci/volunteers/me/stats",
            params={"project_id": pid},
            headers=bearer(volunteers[0]),
        ),
        200,
    )
    assert (stats["classifications"], stats["agreed_with_consensus"], stats["agreement"]) == (
        1,
        1,
        1.0,
    )
    progress = await ok(
        await wl.client.get(f"/v1/citsci/projects/{pid}/progress", headers=bearer(volunteers[3])),
        200,
    )
    assert progress == {
        "project_id": pid,
        "subjects_active": 1,
        "subjects_retired": 1,
        "subjects_gold": 0,
        "classifications": 3,
        "volunteers": 3,
    }


async def test_media_an_expert_validated_stop_going_to_volunteers_and_measure_them(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites
) -> None:
    await import_tree(wl.client, admin, TREE)
    site = await new_site()
    pid = site.project_id
    judged_first, judged_later, open_one = await _photos(wl, admin, site.device_token, 3)
    manager = user_token(settings, "manager-1", {pid: "manager"})
    volunteer = user_token(settings, "volunteer-1", {pid: "volunteer"})

    async def label(media_id: str) -> None:
        await ok(
            await wl.client.post(
                f"/v1/projects/{pid}/media/{media_id}/observations",
                json={"observation_type": "animal", "scientific_name": HERON},
                headers=bearer(admin),
            ),
            201,
        )

    # Known validated when the subject is made (from the catalogue's API): gold at once.
    await label(judged_first)
    set_id = await _builtin_set(wl, manager, pid)
    made = await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{set_id}/subjects",
            json={"subjects": [{"media_ids": [m]} for m in (judged_first, judged_later, open_one)]},
            headers=bearer(manager),
        ),
        201,
    )
    assert [s["state"] for s in made["created"]] == ["gold", "active", "active"]
    gold, later, open_id = (s["id"] for s in made["created"])

    # The volunteers' own consensus written back is no expert's verdict: ignored.
    written_back = ObservationsChanged(
        media_id=open_one,
        project_id=pid,
        verification_state="verified",
        cause=ChangeCause.CHANGE_CAUSE_VOLUNTEER_CONSENSUS,
        changed_by="volunteers:wildlens",
    )
    await wl.platform.contexts["catalogue"].publish([written_back])
    # Validated afterwards (heard from observations.changed): it stops going to volunteers.
    await label(judged_later)

    async def became_gold() -> bool:
        progress = await ok(
            await wl.client.get(f"/v1/citsci/projects/{pid}/progress", headers=bearer(manager)),
            200,
        )
        return bool(progress["subjects_gold"] == 2)

    await eventually(became_gold)
    progress = await ok(
        await wl.client.get(f"/v1/citsci/projects/{pid}/progress", headers=bearer(manager)), 200
    )
    assert (progress["subjects_active"], progress["classifications"]) == (1, 0)

    # Gold-standard subjects are mixed in (here at every turn while one is left), then the
    # subjects that still need volunteers; a gold one never retires.
    served = []
    answers = {gold: HERON, later: "Anas platyrhynchos", open_id: HERON}
    while (shown := await _next(wl, volunteer, pid)) is not None:
        served.append(shown["id"])
        answer = await _classify(
            wl, volunteer, shown["id"], {"taxa": [{"scientific_name": answers[shown["id"]]}]}
        )
        assert answer["retired"] is False
    assert served == [gold, later, open_id]
    stats = await ok(
        await wl.client.get(
            "/v1/citsci/volunteers/me/stats", params={"project_id": pid}, headers=bearer(volunteer)
        ),
        200,
    )
    assert (stats["gold_classified"], stats["gold_correct"], stats["gold_accuracy"]) == (2, 1, 0.5)
    assert stats["classifications"] == 3
