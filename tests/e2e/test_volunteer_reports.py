"""A built-in set whose consensus is Dawid-Skene's, and the reports on the volunteers' work, on
both backends.

One careful volunteer answers the gold standard (media an expert validated) as the expert
did; two others swap heron and mallard on it. On a new photo the two outvote the careful one:
the plurality set retires it as their mallard, the Dawid-Skene set as the careful one's
heron. The reports' figures are the ones worked out by hand from those answers."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import pytest

from tests.e2e.test_builtin_volunteers import _classify, _next, _photos
from tests.e2e.test_classification import TREE
from tests.e2e.test_taxa import import_tree
from tests.support.api import bearer, ok
from tests.support.factories import Sites
from tests.support.platform import RunningPlatform, SettingsFactory, eventually, user_token
from wildlens.citsci.settings import CitsciSettings, VolunteerSettings
from wildlens.common.settings import Settings

pytestmark = pytest.mark.services("catalogue", "ingest", "citsci")

HERON, MALLARD = "Ardea cinerea", "Anas platyrhynchos"
# Every subject retires at its third classification, whatever it says.
RULES = {"first_blank": None, "total_blank": None, "agreement": None, "max_classifications": 3}
# Pielou's evenness of one vote against two: -(1/3 ln 1/3 + 2/3 ln 2/3) / ln 2.
ONE_AGAINST_TWO = -(1 / 3 * math.log(1 / 3) + 2 / 3 * math.log(2 / 3)) / math.log(2)


@pytest.fixture
def settings(settings_for: SettingsFactory) -> Settings:
    """Gold-standard subjects are served first while one waits: the order is predictable."""
    return settings_for(citsci=CitsciSettings(volunteers=VolunteerSettings(gold_standard_rate=1.0)))


async def _set(wl: RunningPlatform, manager: str, pid: str, method: str | None) -> str:
    body: dict[str, Any] = {
        "project_id": pid,
        "name": f"Pond ({method})",
        "retirement_rules": RULES,
    }
    if method is not None:
        body["consensus_method"] = method
    created = await ok(
        await wl.client.post("/v1/citsci/subject-sets", json=body, headers=bearer(manager)), 201
    )
    assert created["consensus_method"] == (method or "plurality")
    return str(created["id"])


async def _subjects(wl: RunningPlatform, manager: str, set_id: str, media: list[str]) -> list[str]:
    made = await ok(
        await wl.client.post(
            f"/v1/citsci/subject-sets/{set_id}/subjects",
            json={"subjects": [{"media_ids": [m]} for m in media]},
            headers=bearer(manager),
        ),
        201,
    )
    return [str(s["id"]) for s in made["created"]]


async def _label(wl: RunningPlatform, admin: str, pid: str, media_id: str, name: str) -> None:
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/media/{media_id}/observations",
            json={"observation_type": "animal", "scientific_name": name},
            headers=bearer(admin),
        ),
        201,
    )


async def _report(
    wl: RunningPlatform, token: str, pid: str, name: str, status: int = 200, **params: str
) -> Any:
    response = await wl.client.get(
        f"/v1/citsci/projects/{pid}/reports/{name}", params=params, headers=bearer(token)
    )
    if params.get("format") == "csv":
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(response.text)))
    return await ok(response, status)


async def test_dawid_skene_trusts_the_careful_volunteer_and_the_reports_add_up(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites
) -> None:
    await import_tree(wl.client, admin, TREE)
    site = await new_site()
    pid = site.project_id
    gold_heron, gold_mallard, weighted, counted = await _photos(wl, admin, site.device_token, 4)
    await _label(wl, admin, pid, gold_heron, HERON)
    await _label(wl, admin, pid, gold_mallard, MALLARD)
    manager = user_token(settings, "manager-1", {pid: "manager"})
    annotator = user_token(settings, "annotator-1", {pid: "annotator"})
    ds_set = await _set(wl, manager, pid, "dawid_skene")
    plain_set = await _set(wl, manager, pid, None)
    gh, gm, t = await _subjects(wl, manager, ds_set, [gold_heron, gold_mallard, weighted])
    (p,) = await _subjects(wl, manager, plain_set, [counted])

    # The careful volunteer answers as the expert; the two others swap the species.
    careful = {gh: HERON, gm: MALLARD, t: HERON, p: HERON}
    swapped = {gh: MALLARD, gm: HERON, t: MALLARD, p: MALLARD}
    volunteers = {"careful": careful, "swap-1": swapped, "swap-2": swapped}
    tokens = {v: user_token(settings, v, {pid: "volunteer"}) for v in volunteers}
    for name, answers in volunteers.items():
        served = []
        while (shown := await _next(wl, tokens[name], pid)) is not None:
            served.append(shown["id"])
            body = {"taxa": [{"scientific_name": answers[shown["id"]], "count": 1}]}
            await _classify(wl, tokens[name], shown["id"], body)
        assert served == [gh, gm, t, p]

    # Per subject: the votes, the share giving the commonest answer, the evenness, and the
    # consensus each method published.
    report = await _report(wl, annotator, pid, "subjects")
    rows = {r["subject_id"]: r for r in report["items"]}
    assert list(rows) == [gh, gm, t, p]
    for sid in (gh, gm, t, p):
        row = rows[sid]
        assert row["classifications"] == 3
        assert row["agreement"] == pytest.approx(2 / 3)
        assert row["evenness"] == pytest.approx(ONE_AGAINST_TWO)
        assert row["nothing_here"] == 0
    assert rows[gh]["votes"] == {HERON: 1, MALLARD: 2}
    assert (rows[gh]["state"], rows[gh]["consensus"], rows[gh]["method"]) == ("gold", None, None)
    assert (rows[t]["consensus"], rows[t]["method"]) == ([HERON], "dawid_skene")
    assert (rows[p]["consensus"], rows[p]["method"]) == ([MALLARD], "plurality")
    assert rows[t]["retirement_reason"] == "classification_count"
    as_csv = await _report(wl, annotator, pid, "subjects", format="csv")
    assert [(r["subject_id"], r["consensus"], r["method"]) for r in as_csv] == [
        (gh, "", ""),
        (gm, "", ""),
        (t, HERON, "dawid_skene"),
        (p, MALLARD, "plurality"),
    ]

    # The catalogue stores the skill-weighted consensus, saying how it was reached.
    async def written(media_id: str) -> dict[str, Any] | None:
        page = await ok(
            await wl.client.get(
                f"/v1/projects/{pid}/observations",
                params={"classification_method": "human", "limit": 100},
                headers=bearer(admin),
            ),
            200,
        )
        found = [
            o
            for o in page["items"]
            if o["media_id"] == media_id and o["classified_by"].startswith("volunteers:")
        ]
        return found[0] if found else None

    observation = await eventually(lambda: written(weighted))
    assert observation["scientific_name"] == HERON
    state = await ok(
        await wl.client.get(
            f"/v1/projects/{pid}/observations/{observation['id']}", headers=bearer(admin)
        ),
        200,
    )
    assert state["consensus"]["method"] == "dawid_skene"
    assert state["consensus"]["votes"] == 1
    assert (await eventually(lambda: written(counted)))["scientific_name"] == MALLARD

    # Per volunteer, managers only: gold accuracy, skill, agreement with the consensus
    # (the careful one agreed on the weighted subject, the others on the counted one).
    for refused in (tokens["careful"], annotator):
        await _report(wl, refused, pid, "volunteers", 403)
    report = await _report(wl, manager, pid, "volunteers")
    figures = {r["volunteer"]: r for r in report["items"]}
    assert list(figures) == ["careful", "swap-1", "swap-2"]
    assert figures["careful"] | {"skill": None} == {
        "volunteer": "careful",
        "classifications": 4,
        "gold_classified": 2,
        "gold_correct": 2,
        "gold_accuracy": 1.0,
        "skill": None,
        "retired_classified": 2,
        "agreed_with_consensus": 1,
        "agreement": 0.5,
    }
    for swap in ("swap-1", "swap-2"):
        assert (figures[swap]["gold_correct"], figures[swap]["gold_accuracy"]) == (0, 0.0)
        assert (figures[swap]["agreed_with_consensus"], figures[swap]["agreement"]) == (1, 0.5)
        assert figures[swap]["skill"] == pytest.approx(0.0, abs=1e-6)
    assert figures["careful"]["skill"] == pytest.approx(1.0, abs=1e-6)
    as_csv = await _report(wl, manager, pid, "volunteers", format="csv")
    assert [(r["volunteer"], r["gold_correct"], r["agreement"]) for r in as_csv] == [
        ("careful", "2", "0.5"),
        ("swap-1", "0", "0.5"),
        ("swap-2", "0", "0.5"),
    ]
    # Volunteers see their own figures only.
    mine = await ok(
        await wl.client.get(
            "/v1/citsci/volunteers/me/stats",
            params={"project_id": pid},
            headers=bearer(tokens["careful"]),
        ),
        200,
    )
    assert (mine["gold_accuracy"], mine["agreement"]) == (1.0, 0.5)

    # Against the experts, where both judged: nothing until an expert looks at the retired
    # subjects' media, then the heron they see in both.
    empty = await _report(wl, annotator, pid, "experts")
    assert (empty["compared"], empty["agreement"], empty["confusion"]) == (0, None, [])
    await _label(wl, admin, pid, weighted, HERON)
    await _label(wl, admin, pid, counted, HERON)
    report = await _report(wl, annotator, pid, "experts")
    assert (report["compared"], report["agreed"], report["agreement"]) == (2, 1, 0.5)
    assert report["confusion"] == [
        {"expert": [HERON], "volunteers": [MALLARD], "subjects": 1},
        {"expert": [HERON], "volunteers": [HERON], "subjects": 1},
    ]
    as_csv = await _report(wl, annotator, pid, "experts", format="csv")
    assert as_csv == [
        {"expert": HERON, "volunteers": MALLARD, "subjects": "1"},
        {"expert": HERON, "volunteers": HERON, "subjects": "1"},
    ]
    await _report(wl, tokens["careful"], pid, "experts", 403)

    # Every report pages like the platform's lists, as JSON and as CSV: walked a row at a
    # time, the pages hold the whole report in order, once each.
    whole = {
        "subjects": (annotator, "items", [gh, gm, t, p]),
        "volunteers": (manager, "items", ["careful", "swap-1", "swap-2"]),
        "experts": (annotator, "confusion", [[MALLARD], [HERON]]),
    }
    for name, (reader, field, expected) in whole.items():
        key = {"subjects": "subject_id", "volunteers": "volunteer", "experts": "volunteers"}[name]
        assert [r[key] for r in await _pages(wl, reader, pid, name, field)] == expected
        walked = await _pages(wl, reader, pid, name, field, csv_pages=True)
        assert [r[key] for r in walked] == [
            e if isinstance(e, str) else "; ".join(e) for e in expected
        ]
        bad = await wl.client.get(
            f"/v1/citsci/projects/{pid}/reports/{name}",
            params={"cursor": "WzFd"},
            headers=bearer(reader),
        )
        assert bad.status_code == 422, bad.text


async def _pages(
    wl: RunningPlatform, token: str, pid: str, name: str, field: str, *, csv_pages: bool = False
) -> list[Any]:
    """Every row of the report, read a row per page."""
    rows: list[Any] = []
    cursor: str | None = None
    for _ in range(10):
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        if csv_pages:
            params["format"] = "csv"
        response = await wl.client.get(
            f"/v1/citsci/projects/{pid}/reports/{name}", params=params, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        if csv_pages:
            page = list(csv.DictReader(io.StringIO(response.text)))
            cursor = response.headers.get("x-next-cursor")
        else:
            body = response.json()
            page, cursor = body[field], body["next_cursor"]
        assert len(page) == 1
        rows += page
        if cursor is None:
            return rows
    raise AssertionError("the report never ended")
