"""What an end-to-end test asks for by name: tokens, projects, sites, deployments and uploads.

Each factory is bound to a running platform and a caller, so a test says ``await
new_project("Herons")`` or ``await upload(image)`` instead of repeating the requests. The
fixtures in ``tests/e2e/conftest.py`` hand them out; everything still goes over the HTTP API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from tests.support.api import Site, bearer, create_site, ok, post_media
from tests.support.platform import user_token
from wildlens.common.settings import Settings


@dataclass(frozen=True)
class Tokens:
    """User tokens signed by the platform under test."""

    settings: Settings

    def __call__(self, subject: str, roles: dict[str, str] | None = None) -> str:
        """A token for ``subject``; without roles it grants nothing itself, so what the user
        may do comes from project memberships."""
        return user_token(self.settings, subject, roles or {})


class ProjectRoles(NamedTuple):
    """A project's id (no project made), and tokens of its manager (``manager-h``) and its
    viewer (``viewer-h``), and of another project's manager (``manager-o``)."""

    project: str
    manager: str
    viewer: str
    stranger: str


def project_roles(token_for: Tokens) -> ProjectRoles:
    herons, others = str(uuid.uuid4()), str(uuid.uuid4())
    return ProjectRoles(
        herons,
        token_for("manager-h", {herons: "manager"}),
        token_for("viewer-h", {herons: "viewer"}),
        token_for("manager-o", {others: "manager"}),
    )


@dataclass(frozen=True)
class Projects:
    """Empty projects, created by ``token``'s holder (who becomes their admin)."""

    client: httpx.AsyncClient
    token: str

    async def __call__(self, name: str = "Herons") -> str:
        created = await ok(
            await self.client.post("/v1/projects", json={"name": name}, headers=bearer(self.token)),
            201,
        )
        return str(created["id"])


@dataclass(frozen=True)
class Sites:
    """Projects with one location, one camera, one deployment and the camera's token."""

    client: httpx.AsyncClient
    token: str

    async def __call__(
        self,
        *,
        serial: str = "HF2X-TEST",
        start: str = "2021-03-27T21:38:18+01:00",
        end: str = "2021-04-18T22:25:00+01:00",
        utc_offset: str = "+01:00",
        name: str = "Heron project",
    ) -> Site:
        return await create_site(
            self.client,
            self.token,
            serial=serial,
            start=start,
            end=end,
            utc_offset=utc_offset,
            name=name,
        )


@dataclass(frozen=True)
class Deployments:
    """Further deployments of a site's camera (at its location unless told otherwise)."""

    client: httpx.AsyncClient
    token: str

    async def __call__(
        self,
        site: Site,
        *,
        start: str,
        end: str,
        utc_offset: str = "+01:00",
        location_id: str | None = None,
    ) -> dict[str, Any]:
        created = await ok(
            await self.client.post(
                f"/v1/projects/{site.project_id}/deployments",
                json={
                    "location_id": location_id or site.location_id,
                    "device_id": site.device_id,
                    "start": start,
                    "end": end,
                    "utc_offset": utc_offset,
                },
                headers=bearer(self.token),
            ),
            201,
        )
        return dict(created)


@dataclass(frozen=True)
class Uploads:
    """Media posted to ingest with a camera's token (the site's unless told otherwise)."""

    client: httpx.AsyncClient
    device_token: str

    async def post(
        self,
        path: Path | None = None,
        *,
        data: bytes | None = None,
        filename: str | None = None,
        fields: dict[str, str] | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        """``POST /v1/media`` as it answers, accepted or not."""
        return await post_media(
            self.client,
            token or self.device_token,
            path,
            data=data,
            filename=filename,
            fields=fields,
        )

    async def __call__(
        self,
        path: Path | None = None,
        *,
        data: bytes | None = None,
        filename: str | None = None,
        fields: dict[str, str] | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """The accepted upload's body (``media_id``, ``sha256``...); fails the test otherwise."""
        response = await self.post(path, data=data, filename=filename, fields=fields, token=token)
        return dict(await ok(response, 202))
