"""An export holds what the caller who asked may see, and goes to no one who sees less: exact
places only with ``precise_locations``, media with people only for annotators and above where
the project hides them; on both backends."""

from __future__ import annotations

import csv
import io
from functools import partial

from tests.e2e.test_exchange_coco import export_zip
from tests.e2e.test_taxa import import_tree
from tests.support.api import Site, bearer, ok
from tests.support.factories import Uploads
from tests.support.located_images import located_image
from tests.support.platform import RunningPlatform, eventually, get_media, user_token
from tests.support.results import analysis, animal, person
from wildlens.common.settings import Settings

NEST = (50.699, 4.013)
CELL = (50.65, 4.05)


async def _rows(wl: RunningPlatform, token: str, pid: str) -> list[dict[str, str]]:
    with await export_zip(wl, token, pid, "csv") as archive:
        return list(csv.DictReader(io.StringIO(archive.read("observations.csv").decode())))


async def test_exports_go_only_to_callers_who_see_all_they_hold(
    wl: RunningPlatform, settings: Settings, admin: str, site: Site, upload: Uploads
) -> None:
    pid, h = site.project_id, bearer(admin)
    taxa = await import_tree(wl.client, admin)
    await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}/privacy",
            json={"sensitive_taxa": [taxa["Ardeidae"]], "hide_people": True},
            headers=h,
        ),
        200,
    )
    ids = []
    for n, detection in enumerate((animal(0.9, "Ardea cinerea"), person(0.9))):
        body = await upload(
            data=located_image(*NEST, colour=(60 * n, 90, 90)),
            fields={"captured_at": f"2021-04-01T21:3{n}:00+01:00"},
        )
        media_id = body["media_id"]
        await eventually(partial(get_media, wl.client, admin, media_id))
        await wl.platform.contexts["inference"].publish([analysis(media_id, pid, detection)])
        ids.append(media_id)

    async def analysed() -> bool:
        found = [await get_media(wl.client, admin, m) for m in ids]
        return all(m is not None and m["status"] == "analyzed" for m in found)

    await eventually(analysed)
    tokens = {
        role: user_token(settings, f"{role}-1", {pid: role})
        for role in ("viewer", "volunteer", "annotator")
    }
    tokens["manager"] = admin  # a platform admin: precise_locations everywhere

    seen = {who: await _rows(wl, token, pid) for who, token in tokens.items()}
    for who, rows in seen.items():
        kinds = {r["observation_type"] for r in rows}
        places = {(float(r["latitude"]), float(r["longitude"])) for r in rows}
        # Media with people only for those the project shows them to.
        assert kinds == ({"animal", "human"} if who in ("annotator", "manager") else {"animal"})
        assert places == ({NEST} if who == "manager" else {CELL}), who

    # Each caller's own export, by who asked for it.
    made: dict[str, str] = {}
    for who, token in tokens.items():
        job = await ok(
            await wl.client.post(
                f"/v1/projects/{pid}/exports", json={"format": "csv"}, headers=bearer(token)
            ),
            202,
        )
        made[who] = job["id"]

    async def readable(token: str) -> set[str]:
        answers = {
            who: (
                await wl.client.get(f"/v1/projects/{pid}/exports/{job}", headers=bearer(token))
            ).status_code
            for who, job in made.items()
        }
        assert set(answers.values()) <= {200, 404}, answers
        return {who for who, status in answers.items() if status == 200}

    low = {"viewer", "volunteer"}
    assert await readable(tokens["viewer"]) == low
    assert await readable(tokens["volunteer"]) == low
    assert await readable(tokens["annotator"]) == low | {"annotator"}
    assert await readable(tokens["manager"]) == set(tokens)

    # Once the project shows people to everyone, only exact places still keep exports apart.
    await ok(
        await wl.client.patch(
            f"/v1/projects/{pid}/privacy", json={"hide_people": False}, headers=h
        ),
        200,
    )
    assert await readable(tokens["volunteer"]) == low | {"annotator"}
