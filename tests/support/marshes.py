"""More places for a site's project: locations ``Marsh 1``… along a line north of the first,
each with a camera deployment of its own in May 2021, for tests that need labels from several
places (splits by location, the prior, per-location figures)."""

from __future__ import annotations

from tests.support.api import Site, bearer, ok
from tests.support.factories import Deployments
from tests.support.platform import RunningPlatform

__all__ = ["add_marshes"]


async def add_marshes(
    wl: RunningPlatform, admin: str, site: Site, new_deployment: Deployments, count: int
) -> list[tuple[str, str, str]]:
    """``count`` more locations of ``site``'s project: each one's id, name and deployment."""
    made: list[tuple[str, str, str]] = []
    for n in range(1, count + 1):
        name = f"Marsh {n}"
        location = await ok(
            await wl.client.post(
                f"/v1/projects/{site.project_id}/locations",
                json={"name": name, "latitude": 51.0 + n / 10, "longitude": 3.5},
                headers=bearer(admin),
            ),
            201,
        )
        deployment = await new_deployment(
            site,
            start=f"2021-05-{n * 3:02d}T00:00:00+01:00",
            end=f"2021-05-{n * 3 + 2:02d}T00:00:00+01:00",
            location_id=location["id"],
        )
        made.append((str(location["id"]), name, str(deployment["id"])))
    return made
