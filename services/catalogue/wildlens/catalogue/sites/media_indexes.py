"""Indexes on the media table that deployment corrections and event grouping read by.

A correction walks a camera's media that no deployment covers (by device), and grouping reads
a deployment's media in capture order (by deployment, then time).
"""

from __future__ import annotations

from sqlalchemy import Index

from wildlens.catalogue.media.models import Media

__all__ = ["MEDIA_BY_DEPLOYMENT_TIME", "MEDIA_BY_DEVICE"]

_media = Media.__table__.c  # type: ignore[attr-defined]

MEDIA_BY_DEPLOYMENT_TIME = Index(
    "ix_media_deployment_captured_at", _media.deployment_id, _media.captured_at
)
MEDIA_BY_DEVICE = Index("ix_media_device_id", _media.device_id)
