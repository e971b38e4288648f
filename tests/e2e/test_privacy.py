"""Privacy: where a sensitive taxon was seen, callers without ``precise_locations`` get
generalised coordinates in every response and export; volunteers do not see media with people
when the project hides them; on the embedded and real backends."""

from __future__ import annotations

import csv
import io
import json
import math
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest
from PIL import Image

from tests.e2e.test_camtrapdp import _export
from tests.e2e.test_taxa import import_tree
from tests.support.api import Site, bearer, ok, post_media
from tests.support.factories import Sites
from tests.support.platform import RunningPlatform, eventually, get_media, user_token
from wildlens.catalogue.privacy import generalise
from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Classification,
    Detection,
    MediaAnalyzed,
    ModelRef,
)
from wildlens.common.settings import Settings

# The location create_site makes: a pond in Belgium.
POND = "B_DM_val 4_'t WAD"
EXACT = (50.699, 4.013)


def _jpeg(colour: tuple[int, int, int], *, gps: bool = False) -> bytes:
    image = Image.new("RGB", (64, 48), colour)
    exif = Image.Exif()
    if gps:
        # 50°41'56.4"N 4°00'46.8"E: the pond itself.
        fix = exif.get_ifd(0x8825)
        fix[1], fix[2], fix[3], fix[4] = "N", (50.0, 41.0, 56.4), "E", (4.0, 0.0, 46.8)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


async def _upload(wl: Any, site: Site, admin: str, data: bytes, **fields: str) -> str:
    body = await ok(
        await post_media(
            wl.client,
            site.device_token,
            data=data,
            filename="image.jpg",
            fields={"captured_at": "2021-04-01T21:30:00+01:00", **fields},
        ),
        202,
    )
    media_id = str(body["media_id"])
    await eventually(lambda: get_media(wl.client, admin, media_id))
    return media_id


async def _analyse(wl: Any, admin: str, project_id: str, media_id: str, detection: Any) -> None:
    event = MediaAnalyzed(
        media_id=media_id,
        project_id=project_id,
        detector=ModelRef(name="test-detector", version="1.0"),
        detections=[detection],
    )
    # Whole seconds, as Camtrap DP writes timestamps.
    event.analyzed_at.FromDatetime(datetime.now(UTC).replace(microsecond=0))
    await wl.platform.contexts["inference"].publish([event])

    async def analysed() -> bool:
        media = await get_media(wl.client, admin, media_id)
        return media is not None and media["status"] == "analyzed"

    await eventually(analysed)


def _animal(name: str) -> Detection:
    return Detection(
        category="animal",
        confidence=0.9,
        bbox=BoundingBox(x=0.1, y=0.1, width=0.2, height=0.2),
        classifications=[Classification(label=name, scientific_name=name, confidence=0.9)],
    )


def _person() -> Detection:
    return Detection(
        category="person", confidence=0.9, bbox=BoundingBox(x=0, y=0, width=1, height=1)
    )


async def _privacy(wl: Any, token: str, pid: str, **change: Any) -> dict[str, Any]:
    return dict(
        await ok(
            await wl.client.patch(
                f"/v1/projects/{pid}/privacy", json=change, headers=bearer(token)
            ),
            200,
        )
    )


async def _locations(wl: Any, token: str, pid: str) -> dict[str, tuple[float, float]]:
    page = await ok(
        await wl.client.get(f"/v1/projects/{pid}/locations", headers=bearer(token)), 200
    )
    return {loc["name"]: (loc["latitude"], loc["longitude"]) for loc in page["items"]}


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


async def test_sensitive_places_are_generalised_for_callers_without_precise_locations(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites
) -> None:
    taxa = await import_tree(wl.client, admin)
    site = await new_site()
    pid = site.project_id
    await ok(
        await wl.client.post(
            f"/v1/projects/{pid}/locations",
            json={"name": "Duck pond", "latitude": 51.2345, "longitude": 3.2345},
            headers=bearer(admin),
        ),
        201,
    )
    viewer = user_token(settings, "viewer-1", {pid: "viewer"})
    await ok(
        await wl.client.put(
            f"/v1/projects/{pid}/members/expert-1",
            json={"role": "viewer", "permissions": ["precise_locations"]},
            headers=bearer(admin),
        ),
        201,
    )
    expert = user_token(settings, "expert-1", {pid: "viewer"})
    media_id = await _upload(
        wl, site, admin, _jpeg((90, 120, 60), gps=True), latitude="50.699", longitude="4.013"
    )

    settings_now = await _privacy(wl, admin, pid, sensitive_taxa=[taxa["Ardeidae"]])
    assert [t["scientific_name"] for t in settings_now["sensitive_taxa"]] == ["Ardeidae"]
    assert settings_now["coordinate_precision"] == 0.1
    # Nothing sensitive has been seen yet: everyone sees the pond exactly.
    assert (await _locations(wl, viewer, pid))[POND] == EXACT

    # A grey heron (a species of the sensitive family) is seen at the pond.
    await _analyse(wl, admin, pid, media_id, _animal("Ardea cinerea"))
    places = await _locations(wl, viewer, pid)
    assert places[POND] == pytest.approx((50.65, 4.05))
    assert places["Duck pond"] == (51.2345, 3.2345)
    media = await get_media(wl.client, viewer, media_id)
    assert media is not None
    assert (media["latitude"], media["longitude"]) == pytest.approx((50.65, 4.05))
    assert "gps_latitude" not in media["raw_metadata"]
    assert "gps_longitude" not in media["raw_metadata"]

    # The precise_locations permission sees the exact place, and so do platform admins.
    assert (await _locations(wl, expert, pid))[POND] == EXACT
    exact = await get_media(wl.client, expert, media_id)
    assert exact is not None
    assert (exact["latitude"], exact["longitude"]) == EXACT
    assert exact["raw_metadata"]["gps_latitude"] == pytest.approx(50.699)
    assert (await _locations(wl, admin, pid))[POND] == EXACT

    # A finer grid: 0.01° cells.
    await _privacy(wl, admin, pid, coordinate_precision=0.01)
    places = await _locations(wl, viewer, pid)
    assert places[POND] == pytest.approx((50.695, 4.015))

    package = zipfile.ZipFile(io.BytesIO(await _export(wl, viewer, pid)))
    (row,) = list(csv.DictReader(io.StringIO(package.read("deployments.csv").decode())))
    assert (float(row["latitude"]), float(row["longitude"])) == pytest.approx((50.695, 4.015))
    # The true place lies within the stated uncertainty of the written one, and the
    # uncertainty is no larger than the cell needs (half its diagonal, about 660 m).
    uncertainty = int(row["coordinateUncertainty"])
    assert _metres(50.695, 4.015, *EXACT) <= uncertainty
    assert uncertainty <= _metres(50.69, 4.01, 50.70, 4.02) / 2 + 1
    descriptor = json.loads(package.read("datapackage.json"))
    assert descriptor["coordinatePrecision"] == 0.01
    assert "50.699" not in json.dumps(descriptor["spatial"])


async def test_volunteers_do_not_see_media_with_people_when_the_project_hides_them(
    wl: RunningPlatform, settings: Settings, admin: str, site: Site
) -> None:
    pid = site.project_id
    people = await _upload(wl, site, admin, _jpeg((200, 30, 30)))
    animals = await _upload(wl, site, admin, _jpeg((30, 30, 200)))
    await _analyse(wl, admin, pid, people, _person())
    await _analyse(wl, admin, pid, animals, _animal("Anas platyrhynchos"))
    volunteer = user_token(settings, "volunteer-1", {pid: "volunteer"})
    annotator = user_token(settings, "annotator-1", {pid: "annotator"})

    async def listed(token: str) -> tuple[set[str], set[str]]:
        media = await ok(
            await wl.client.get(f"/v1/projects/{pid}/media", headers=bearer(token)), 200
        )
        observations = await ok(
            await wl.client.get(f"/v1/projects/{pid}/observations", headers=bearer(token)),
            200,
        )
        # The events' own media lists hide the same media.
        events = await ok(
            await wl.client.get(f"/v1/projects/{pid}/events", headers=bearer(token)), 200
        )
        in_events: set[str] = set()
        for event in events["items"]:
            detail = await ok(
                await wl.client.get(
                    f"/v1/projects/{pid}/events/{event['id']}", headers=bearer(token)
                ),
                200,
            )
            in_events |= {m["id"] for m in detail["media"]}
        ids = {m["id"] for m in media["items"]}
        assert in_events == ids
        return ids, {o["observation_type"] for o in observations["items"]}

    assert await listed(volunteer) == ({people, animals}, {"human", "animal"})

    await _privacy(wl, admin, pid, hide_people=True)
    assert await listed(volunteer) == ({animals}, {"animal"})
    response = await wl.client.get(f"/v1/media/{people}", headers=bearer(volunteer))
    assert response.status_code == 404
    assert await get_media(wl.client, volunteer, animals) is not None
    # Annotators and above still see everything.
    assert await listed(annotator) == ({people, animals}, {"human", "animal"})
    assert await get_media(wl.client, annotator, people) is not None

    await _privacy(wl, admin, pid, hide_people=False)
    assert await get_media(wl.client, volunteer, people) is not None


async def test_privacy_settings_are_checked_and_kept_to_managers(
    wl: RunningPlatform, settings: Settings, admin: str, new_site: Sites
) -> None:
    taxa = await import_tree(wl.client, admin)
    site = await new_site()
    other = await new_site(name="Another project")
    url = f"/v1/projects/{site.project_id}/privacy"
    viewer = user_token(settings, "viewer-1", {site.project_id: "viewer"})
    annotator = user_token(settings, "annotator-1", {site.project_id: "annotator"})
    outsider = user_token(settings, "outsider", {other.project_id: "manager"})

    defaults = await ok(await wl.client.get(url, headers=bearer(viewer)), 200)
    assert defaults["coordinate_precision"] == 0.1
    assert defaults["hide_people"] is False
    assert defaults["sensitive_taxa"] == []
    assert defaults["precise_locations"] is False

    change = {"sensitive_taxa": [taxa["Ardea cinerea"]]}
    assert (await wl.client.patch(url, json=change, headers=bearer(annotator))).status_code == 403
    assert (await wl.client.patch(url, json=change, headers=bearer(outsider))).status_code == 404

    unknown = "00000000-0000-4000-8000-000000000000"
    response = await wl.client.patch(
        url, json={"sensitive_taxa": [taxa["Ardea cinerea"], unknown]}, headers=bearer(admin)
    )
    assert response.status_code == 422
    assert unknown in response.json()["detail"]
    for bad in ({"coordinate_precision": 0}, {"coordinate_precision": 20}, {"colour": "red"}):
        response = await wl.client.patch(url, json=bad, headers=bearer(admin))
        assert response.status_code == 422, bad
    # Nothing half-written: the refused changes left the settings as they were.
    assert (await ok(await wl.client.get(url, headers=bearer(admin)), 200))["sensitive_taxa"] == []

    updated = await ok(
        await wl.client.patch(
            url, json={**change, "coordinate_precision": 0.5}, headers=bearer(admin)
        ),
        200,
    )
    assert [t["scientific_name"] for t in updated["sensitive_taxa"]] == ["Ardea cinerea"]
    assert updated["coordinate_precision"] == 0.5
    assert updated["precise_locations"] is True  # a platform admin sees everything
    assert updated["updated_by"] == "admin"


@pytest.mark.parametrize(
    ("point", "precision", "centre"),
    [
        ((50.699, 4.013), 0.1, (50.65, 4.05)),
        ((50.699, 4.013), 1.0, (50.5, 4.5)),
        ((-33.8688, 151.2093), 0.1, (-33.85, 151.25)),
        ((0.04, -0.04), 0.1, (0.05, -0.05)),
    ],
)
def test_a_point_moves_to_the_centre_of_its_cell_and_stays_within_the_uncertainty(
    point: tuple[float, float], precision: float, centre: tuple[float, float]
) -> None:
    place = generalise(*point, precision)
    assert (place.latitude, place.longitude) == pytest.approx(centre)
    assert place.precision == precision
    assert place.uncertainty_m is not None
    assert _metres(place.latitude, place.longitude, *point) <= place.uncertainty_m
    # No larger than half the cell's diagonal at its widest (plus rounding up).
    half = precision / 2
    widest = _metres(
        place.latitude,
        place.longitude,
        place.latitude - math.copysign(half, place.latitude),
        place.longitude + half,
    )
    assert place.uncertainty_m <= widest + 1
    # The point's own uncertainty adds to the cell's.
    assert generalise(*point, precision, 250).uncertainty_m == place.uncertainty_m + 250
