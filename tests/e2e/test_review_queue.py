"""The review queue puts first the unverified media where a person helps most: volunteers and
model disagreeing, low confidence, model versions disagreeing, species rarely confirmed in the
project; each score is explained, verified media leave the queue."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from tests.e2e.test_taxa import import_tree
from tests.e2e.test_verification import analyse, analysis, media, upload
from tests.support.api import bearer, create_site, ok
from tests.support.platform import admin_token, running, user_token
from wildlens.catalogue.media.models import Observation
from wildlens.common.db import utcnow


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
    settings_for: Any, heron_images: list[Path]
) -> None:
    settings = settings_for()
    async with running(settings) as wl:
        admin = admin_token(settings)
        await import_tree(wl.client, admin)
        site = await create_site(wl.client, admin)
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
        assert (
            "Anas platyrhynchos" in reasons[volunteers_differ]["volunteer_disagreement"]["detail"]
        )
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
