"""Date-times at the edges of what can be written: every date-time the API reads, in a query
string, a JSON body or an upload's form, answers 422 naming the field for an instant that has
no UTC year between 1 and 9999 (``0001-01-01T00:00:00+14:00`` is year 0 in UTC), and never a
5xx for the earliest and latest instants it accepts; on both backends."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Site, bearer, post_media
from tests.support.platform import RunningPlatform
from wildlens.common.http.timestamps import EARLIEST, LATEST

# Valid RFC 3339, but outside Python's range once in UTC.
BEYOND = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
# The earliest and latest instants accepted, written with the offsets furthest from UTC.
WITHIN = [
    EARLIEST.isoformat(),
    LATEST.isoformat(),
    EARLIEST.replace(hour=14).isoformat().replace("+00:00", "+14:00"),
]

STATISTICS = ["counts", "relative-abundance", "activity", "detection-rate", "species-accumulation"]

pytestmark = pytest.mark.services("catalogue", "ingest", "inference")


def _queries(site: Site) -> list[tuple[str, str]]:
    """Every list or statistic with a date-time parameter: (path, parameter)."""
    project = f"/v1/projects/{site.project_id}"
    found = [
        (f"{project}/media", "captured_from"),
        (f"{project}/media", "captured_to"),
        (f"{project}/observations", "captured_from"),
        (f"{project}/observations", "captured_to"),
        (f"{project}/events", "captured_from"),
        (f"{project}/events", "captured_to"),
    ]
    statistics = [f"{project}/statistics/{name}" for name in STATISTICS]
    # The scope is read before the format is chosen; tables and pictures of one are enough.
    statistics += [f"{project}/statistics/activity?format={fmt}" for fmt in ("csv", "png")]
    for path in statistics:
        found += [(path, "captured_from"), (path, "captured_to")]
    return found


def _bodies(site: Site, when: str) -> list[tuple[str, str, dict[str, Any], str]]:
    """Every JSON body with a date-time field: (method, path, body, field)."""
    project = f"/v1/projects/{site.project_id}"
    new = {"location_id": site.location_id, "device_id": site.device_id, "utc_offset": "+01:00"}
    deployment = f"{project}/deployments/{site.deployment_id}"
    return [
        ("POST", f"{project}/deployments", {**new, "start": when}, "start"),
        (
            "POST",
            f"{project}/deployments",
            {**new, "start": "2020-01-01T00:00:00Z", "end": when},
            "end",
        ),
        ("PATCH", deployment, {"start": when}, "start"),
        ("PATCH", deployment, {"end": when}, "end"),
        ("PATCH", deployment, {"clock_checked_at": when}, "clock_checked_at"),
        (
            "POST",
            "/v1/predict/backfills",
            {"project_id": site.project_id, "captured_from": when},
            "captured_from",
        ),
        (
            "POST",
            "/v1/predict/backfills",
            {"project_id": site.project_id, "captured_to": when},
            "captured_to",
        ),
    ]


def _names(response: Any) -> list[list[Any]]:
    return [f["location"] for f in response.json().get("fields", [])]


async def test_instants_beyond_utc_are_refused_naming_the_field(
    wl: RunningPlatform, admin: str, site: Site, heron_images: Any
) -> None:
    for when in BEYOND:
        for path, name in _queries(site):
            response = await wl.client.get(path, params={name: when}, headers=bearer(admin))
            assert response.status_code == 422, (path, name, when, response.text)
            assert ["query", name] in _names(response), (path, response.text)
        for method, path, body, name in _bodies(site, when):
            response = await wl.client.request(method, path, json=body, headers=bearer(admin))
            assert response.status_code == 422, (method, path, name, when, response.text)
            assert any(loc[0] == "body" and name in loc for loc in _names(response)), response.text
        response = await post_media(
            wl.client, site.device_token, heron_images[0], fields={"captured_at": when}
        )
        assert response.status_code == 422, response.text
        assert "captured_at" in response.text


async def test_the_earliest_and_latest_accepted_instants_are_answered(
    wl: RunningPlatform, admin: str, site: Site
) -> None:
    for when in WITHIN:
        for path, name in _queries(site):
            response = await wl.client.get(path, params={name: when}, headers=bearer(admin))
            assert response.status_code == 200, (path, name, when, response.text)
    for when in WITHIN:
        for method, path, body, name in _bodies(site, when):
            response = await wl.client.request(method, path, json=body, headers=bearer(admin))
            assert response.status_code < 500, (method, path, name, when, response.text)
    # A deployment now runs from year 1 to year 9999: the species accumulation curve, one
    # point a day, is drawn for a century at most, and says which parameters narrow it.
    curve = f"/v1/projects/{site.project_id}/statistics/species-accumulation"
    response = await wl.client.get(curve, headers=bearer(admin))
    assert response.status_code == 422, response.text
    assert ["query", "captured_from"] in _names(response)
    period = {"captured_from": "2000-01-01T00:00:00Z", "captured_to": "2030-01-01T00:00:00Z"}
    response = await wl.client.get(curve, params=period, headers=bearer(admin))
    assert response.status_code == 200, response.text
