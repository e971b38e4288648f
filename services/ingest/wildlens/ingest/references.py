"""The deployment and camera an upload names, checked against its project before anything is
stored.

The catalogue owns deployments and cameras, so ingest asks it (``GET`` of the one deployment or
camera, with ingest's service token) while the caller waits: an id of another project, or of
nothing, is refused with a 422 naming the field, and the upload never holds it. Single and bulk
uploads check the same way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from wildlens.common.auth import Principal
from wildlens.common.errors import FieldError, Forbidden, Invalid, Unavailable
from wildlens.common.service.clients import ServiceClients

__all__ = ["CATALOGUE_UNAVAILABLE", "Placement", "checked_placement"]

# The catalogue is back within seconds when one of its replicas restarts.
RETRY_AFTER_S = 5
CATALOGUE_UNAVAILABLE = (
    "The catalogue could not be asked whether the deployment or camera named is the "
    "project's; nothing was stored (see `Retry-After`)"
)


@dataclass(frozen=True)
class Placement:
    """Where an upload goes, every id checked."""

    project_id: uuid.UUID
    device_id: uuid.UUID | None
    deployment_id: uuid.UUID | None


def _not_in_project(field: str, what: str, value: uuid.UUID) -> Invalid:
    return Invalid(
        f"{field}: {what} {value} is not in this project",
        fields=[
            FieldError(
                location=["body", field],
                message=f"no such {what} in this project",
                type="value_error",
            )
        ],
    )


async def _catalogue_object(
    clients: ServiceClients, path: str, field: str, what: str, value: uuid.UUID
) -> dict[str, Any]:
    """The catalogue's answer for one object of the project; 422 when it is not there."""
    retry = {"Retry-After": str(RETRY_AFTER_S)}
    try:
        response = await clients.client("catalogue").get(path)
    except httpx.HTTPError as exc:
        raise Unavailable(
            f"the catalogue does not answer to check the {what}: {exc}", headers=retry
        ) from exc
    if response.status_code == 404:
        raise _not_in_project(field, what, value)
    if response.status_code != 200:
        raise Unavailable(
            f"the catalogue answered {response.status_code} when asked for the {what}",
            headers=retry,
        )
    body: dict[str, Any] = response.json()
    return body


async def checked_placement(
    clients: ServiceClients,
    principal: Principal,
    project_id: uuid.UUID,
    device_id: uuid.UUID | None,
    deployment_id: uuid.UUID | None,
) -> Placement:
    """``project_id``, ``device_id`` and ``deployment_id`` (as ``scope.upload_scope`` settled
    the first two) once the catalogue confirms the ids are the project's; the camera is the
    deployment's where only the deployment was named.

    Raises:
        Invalid: the deployment or camera is not the project's, or they do not go together.
        Forbidden: a gateway named a deployment of a camera its token does not cover.
        Unavailable: the catalogue could not be asked.
    """
    base = f"/v1/projects/{project_id}"
    if deployment_id is not None:
        deployment = await _catalogue_object(
            clients,
            f"{base}/deployments/{deployment_id}",
            "deployment_id",
            "deployment",
            deployment_id,
        )
        camera = uuid.UUID(str(deployment["device_id"]))
        if principal.is_device and str(camera) not in principal.device_ids:
            raise Forbidden(
                f"deployment {deployment_id} is of a camera this device token does not cover"
            )
        if device_id is not None and device_id != camera:
            raise Invalid(
                f"deployment {deployment_id} is of camera {camera}, not {device_id}",
                fields=[
                    FieldError(
                        location=["body", "device_id"],
                        message="not the camera of the deployment",
                        type="value_error",
                    )
                ],
            )
        return Placement(project_id, camera, deployment_id)
    if device_id is not None and not principal.is_device:
        # A gateway's cameras are in its token, issued by the catalogue for this project.
        await _catalogue_object(
            clients, f"{base}/devices/{device_id}", "device_id", "device", device_id
        )
    return Placement(project_id, device_id, None)
