"""Many people correcting one observation at the same moment: each correction is answered
(none with a 5xx), each one that went through is one version of the history, and the
versions run 1, 2, 3, ... without a gap or a repeat; on both backends."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.support.api import Site, bearer, ok, post_media
from tests.support.platform import RunningPlatform, eventually, get_media

pytestmark = pytest.mark.services("catalogue", "ingest")

AT_ONCE = 20


async def _observation(wl: RunningPlatform, admin: str, site: Site, image: Path) -> str:
    posted = await ok(await post_media(wl.client, site.device_token, image), 202)
    media_id = posted["media_id"]
    await eventually(lambda: get_media(wl.client, admin, media_id))
    labelled = await ok(
        await wl.client.post(
            f"/v1/projects/{site.project_id}/media/{media_id}/observations",
            json={"observation_type": "animal", "scientific_name": "Ardea"},
            headers=bearer(admin),
        ),
        201,
    )
    return str(labelled["id"])


async def test_twenty_corrections_at_once_each_get_their_own_version(
    wl: RunningPlatform, admin: str, site: Site, heron_images: list[Path]
) -> None:
    observation = await _observation(wl, admin, site, heron_images[0])
    url = f"/v1/projects/{site.project_id}/observations/{observation}"
    # Each says something else, so that every one that goes through is a change.
    answers = await asyncio.gather(
        *(
            wl.client.post(f"{url}/correct", json={"count": n + 2}, headers=bearer(admin))
            for n in range(AT_ONCE)
        )
    )
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {200, 409}, [a.text for a in answers if a.status_code != 200]
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["detail"].endswith("."), answer.text
    applied = sorted(a.json()["version"] for a in answers if a.status_code == 200)
    history = await ok(await wl.client.get(f"{url}/history", headers=bearer(admin)), 200)
    versions = [change["version"] for change in history["items"]]
    # Version 1 is the hand label itself; every correction that went through follows it.
    assert versions == list(range(1, len(versions) + 1))
    assert applied == versions[1:]
    final = await ok(await wl.client.get(url, headers=bearer(admin)), 200)
    assert final["version"] == versions[-1]
    # The last correction in the history is what the observation now says.
    assert final["count"] == history["items"][-1]["after"]["count"]
