"""``device.revoked``: every replica adds the token to the list its requests are checked
against."""

from __future__ import annotations

from datetime import UTC

import structlog

from wildlens.common.auth import RevocationList
from wildlens.common.events.v1.devices_pb2 import DeviceRevoked

log = structlog.get_logger(__name__)


def revoke(revocations: RevocationList, event: DeviceRevoked) -> None:
    """Add the revoked token; repeats and any order converge on the same list."""
    expires_at = event.expires_at.ToDatetime(tzinfo=UTC) if event.HasField("expires_at") else None
    revocations.add(event.token_id, expires_at)
    log.info(
        "ingest.device_token_revoked",
        token_id=event.token_id,
        project_id=event.project_id,
        revoked_by=event.revoked_by,
    )
