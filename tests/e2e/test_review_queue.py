"""The review queue puts first the unverified media where a person helps most: volunteers and
model disagreeing, low confidence, model versions disagreeing, species rarely confirmed in the
project; each score is explained, verified media leave the queue."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import select

from tests.e2e.test_taxa import import_tree
from tests.e2e.test_verification import analyse, analysis, media, upload
from tests.support.api import bearer, ok
from tests.support.factories import Sites
from tests.support.platform import RunningPlatform, user_token
from wildlens.catalogue.models import Media, ModelRun, Observation
from wildlens.catalogue.observations import review
from wildlens.catalogue.observations.current import is_volunteer
from wildlens.catalogue.observations.repository.review_order import NOT_ANALYSED
from wildlens.common.db import utcnow
from wildlens.common.settings import Settings


async def _volunteers_say(wl: Any, project_id: str, media_id: str, scientific_name: str) -> None:
    """A volunteers' consensus label, as the citizen-science service reports it."""
    catalogue = wl.platform.contexts["catalogue"]
    async with catalogue.db.transaction() as session:
        session.add(
            Observation(
                project_id=uuid.UUID(project_id),
                media_id=uuid.UUID(media_id),
                observation_type="animal",
                category="animal",
                scientific_name=scientific_name,
                classification_method="human",
                classified_by="volunteers:zooniverse",
                classified_at=utcnow(),
            )
        )


async def test_the_queue_puts_where_people_help_most_first(
    wl: RunningPlatform, settings: Settings, admin: str, heron_images: list[Path], new_site: Sites
) -> None:
    await import_tree(wl.client, admin)
    site = await new_site()
    pid = site.project_id
    annotator = user_token(settings, "ann", {pid: "annotator"})
    viewer = user_token(settings, "viewer", {pid: "viewer"})
    sure, unsure, models_differ, volunteers_differ, rare, seen1, seen2 = await upload(
        wl, admin, site, heron_images[:7]
    )
    heron, mallard = ("heron", "Ardea cinerea", 0.95), ("mallard", "Anas platyrhynchos", 0.95)
    await analyse(
        wl,
        admin,
        analysis(sure, pid, "1.0", heron),
        analysis(unsure, pid, "1.0", ("heron", "Ardea cinerea", 0.3)),
        analysis(models_differ, pid, "1.0", mallard),
        analysis(volunteers_differ, pid, "1.0", heron),
        analysis(rare, pid, "1.0", mallard),
        analysis(seen1, pid, "1.0", heron),
        analysis(seen2, pid, "1.0", heron),
    )
    await analyse(wl, admin, analysis(models_differ, pid, "2.0", heron))
    await _volunteers_say(wl, pid, volunteers_differ, "Anas platyrhynchos")
    # Two herons confirmed: herons are common here, mallards never confirmed.
    for m in (seen1, seen2):
        (obs,) = (await media(wl, admin, m))["observations"]
        await ok(
            await wl.client.post(
                f"/v1/projects/{pid}/observations/{obs['id']}/validate",
                headers=bearer(annotator),
            ),
            200,
        )

    url = f"/v1/projects/{pid}/review"
    first = await ok(await wl.client.get(url, params={"limit": 2}, headers=bearer(viewer)), 200)
    rest = await ok(
        await wl.client.get(
            url, params={"limit": 10, "cursor": first["next_cursor"]}, headers=bearer(viewer)
        ),
        200,
    )
    assert rest["next_cursor"] is None
    queue = first["items"] + rest["items"]
    assert [i["media_id"] for i in queue] == [
        volunteers_differ,
        unsure,
        models_differ,
        rare,
        sure,
    ]
    scores = [i["score"] for i in queue]
    assert scores == sorted(scores, reverse=True)
    reasons = {i["media_id"]: {r["reason"]: r for r in i["reasons"]} for i in queue}
    assert "Anas platyrhynchos" in reasons[volunteers_differ]["volunteer_disagreement"]["detail"]
    assert reasons[unsure]["low_confidence"]["weight"] > 0.7
    assert set(reasons[models_differ]) >= {"model_disagreement", "low_confidence"}
    assert (
        "test-detector@1.0 says Anas platyrhynchos"
        in (reasons[models_differ]["model_disagreement"]["detail"])
    )
    # The species never confirmed in the project weighs more than the one confirmed twice.
    assert reasons[rare]["rare_taxon"]["weight"] > reasons[sure]["rare_taxon"]["weight"]
    assert "2 validated" in reasons[sure]["rare_taxon"]["detail"]
    for item in queue:
        assert item["score"] == round(sum(r["weight"] for r in item["reasons"]), 4)
    # The newest model's label is what a reviewer checks.
    by_id = {i["media_id"]: i for i in queue}
    assert by_id[models_differ]["scientific_names"] == ["Ardea cinerea"]

    # Once someone corrects it, it leaves the queue.
    (obs,) = [
        o
        for o in (await media(wl, admin, volunteers_differ))["observations"]
        if o["classification_method"] == "machine"
    ]
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/observations/{obs['id']}/correct",
            json={"scientific_name": "Anas platyrhynchos"},
            headers=bearer(annotator),
        ),
        200,
    )
    after = await ok(await wl.client.get(url, headers=bearer(viewer)), 200)
    assert volunteers_differ not in {i["media_id"] for i in after["items"]}

    bad = await wl.client.get(url, params={"cursor": "nonsense"}, headers=bearer(viewer))
    assert bad.status_code == 422, bad.text
    bad = await wl.client.get(url, params={"limit": 0}, headers=bearer(viewer))
    assert bad.status_code == 422, bad.text


SPECIES = ["Ardea cinerea", "Anas platyrhynchos", "Vulpes vulpes", "Meles meles"]


async def _survey(wl: Any, project_id: uuid.UUID, taxa: dict[str, str], seed: int) -> None:
    """Media with everything the score weighs: one to three model versions that agree or
    not, blanks, unknown certainties, discarded labels, volunteers' labels (animal or blank),
    taxa by id or by name, classifiers more or less torn between labels, and validated or
    expert-judged media."""
    rng = random.Random(seed)
    start = datetime(2022, 5, 1, tzinfo=UTC)
    catalogue = wl.platform.contexts["catalogue"]
    async with catalogue.db.transaction() as session:
        for n in range(80):
            medium = Media(
                id=uuid.uuid4(),
                project_id=project_id,
                sha256=f"{n:064x}",
                object_key=f"media/{n}.jpg",
                content_type="image/jpeg",
                captured_at=start + timedelta(minutes=n),
            )
            session.add(medium)
            await session.flush()

            def observe(medium_id: uuid.UUID, **fields: Any) -> None:
                name = rng.choice(SPECIES)
                by_id = name in taxa and rng.random() < 0.5
                animal = rng.random() < 0.8
                session.add(
                    Observation(
                        project_id=project_id,
                        media_id=medium_id,
                        observation_type="animal" if animal else "blank",
                        category="animal" if animal else "",
                        scientific_name=name if animal else "",
                        taxon_id=uuid.UUID(taxa[name]) if animal and by_id else None,
                        **fields,
                    )
                )

            runs = rng.randint(0, 3)
            # Media no detector reached stay recorded: queued as not analysed.
            medium.status = "analyzed" if runs else "recorded"
            for version in range(runs):
                run = ModelRun(
                    media_id=medium.id,
                    model_name="detector",
                    model_version=f"{version}.0",
                    analyzed_at=start + timedelta(hours=version),
                )
                session.add(run)
                await session.flush()
                for _ in range(rng.randint(0, 3)):
                    observe(
                        medium.id,
                        model_run_id=run.id,
                        classification_method="machine",
                        classified_by=f"detector@{version}.0",
                        classified_at=run.analyzed_at,
                        confidence=rng.choice([None, 1.0, rng.random()]),
                        classification_confidence=rng.choice([None, rng.random()]),
                        # A classifier's top-k, or none (a detector alone, an import).
                        classification_entropy=rng.choice([None, 0.0, rng.random()]),
                        classification_margin=rng.choice([None, 1.0, rng.random()]),
                        verification_state=rng.choice(["predicted"] * 5 + ["discarded"]),
                    )
            if rng.random() < 0.3:
                observe(
                    medium.id,
                    classification_method="human",
                    classified_by="volunteers:zooniverse",
                    classified_at=start,
                )
            if rng.random() < 0.15:
                observe(
                    medium.id,
                    classification_method="human",
                    classified_by="expert",
                    classified_at=start,
                    verification_state="validated",
                    verified_by="expert",
                )


def _expected(observations: list[Observation], media: list[Media]) -> list[tuple[str, float]]:
    """The queue as the explanations score it, one medium at a time."""
    by_media: dict[uuid.UUID, list[Observation]] = defaultdict(list)
    for o in observations:
        if o.media_id is not None:
            by_media[o.media_id].append(o)
    judged = {
        m
        for m, found in by_media.items()
        if any(
            o.verified_by or (o.classification_method == "human" and not is_volunteer(o))
            for o in found
        )
    }
    validated: dict[str, int] = defaultdict(int)
    for o in observations:
        if o.verification_state == "validated":
            validated[str(o.taxon_id) if o.taxon_id else o.scientific_name] += 1
    scored = []
    for m, found in by_media.items():
        if m not in judged:
            reasons, _, _ = review._score(found, validated)
            scored.append((str(m), round(sum(r.weight for r in reasons), 4)))
    scored += [
        (str(m.id), NOT_ANALYSED) for m in media if m.status == "recorded" and m.id not in by_media
    ]
    return sorted(scored, key=lambda item: (-item[1], item[0]))


async def test_the_queue_is_ordered_as_its_explanations_score_it(
    wl: RunningPlatform, admin: str
) -> None:
    taxa = await import_tree(wl.client, admin)
    project = await ok(
        await wl.client.post("/v1/projects", json={"name": "Queue"}, headers=bearer(admin)),
        201,
    )
    pid = uuid.UUID(project["id"])
    await _survey(wl, pid, taxa, seed=3)
    queue: list[tuple[str, float]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 7, **({"cursor": cursor} if cursor else {})}
        page = await ok(
            await wl.client.get(f"/v1/projects/{pid}/review", params=params, headers=bearer(admin)),
            200,
        )
        queue += [(i["media_id"], i["score"]) for i in page["items"]]
        for item in page["items"]:
            assert item["score"] == round(sum(r["weight"] for r in item["reasons"]), 4)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    catalogue = wl.platform.contexts["catalogue"]
    async with catalogue.db.transaction() as session:
        stored = (
            await session.exec(select(Observation).where(Observation.project_id == pid))
        ).all()
        media = (await session.exec(select(Media).where(Media.project_id == pid))).all()
    expected = _expected(list(stored), list(media))
    # Media nobody has looked at are among them.
    assert {m for m, s in expected if s == NOT_ANALYSED}
    # Enough media, and enough different scores, for the order to say something.
    assert len(expected) > 40
    assert len({score for _, score in expected}) > 10
    assert queue == expected
