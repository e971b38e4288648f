"""The ingest service's settings: ``WILDLENS_INGEST__<FIELD>`` in the environment."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from wildlens.common.settings import SettingsGroup

__all__ = ["IngestSettings"]


class IngestSettings(SettingsGroup):
    """Upload limits, rate limits, idempotency, derivatives, video cutting and the sweep of
    unreferenced objects."""

    group: ClassVar[str] = "ingest"

    max_image_bytes: int = 64 * 1024 * 1024
    max_video_bytes: int = 8 * 1024 * 1024 * 1024
    max_image_pixels: int = 120_000_000
    # Per device token: a steady rate with room for a burst (a trap emptying its buffer).
    rate_limit_per_minute: float = Field(default=600, gt=0)
    rate_limit_burst: int = Field(default=120, ge=1)
    # How long an Idempotency-Key is remembered.
    idempotency_ttl_s: int = Field(default=24 * 3600, ge=60)
    # Video: one frame every N seconds (0: none) and clips of N seconds (0: none).
    video_frame_interval_s: float = Field(default=1.0, ge=0)
    video_clip_seconds: float = Field(default=0, ge=0)
    video_max_frames: int = Field(default=20_000, ge=1)
    # Whether this process also works the ingest queues (derivatives, video cutting); a
    # deployment can run them in their own replicas and keep the upload API's CPU for uploads.
    run_workers: bool = True
    thumbnail_px: int = Field(default=320, ge=16)
    display_px: int = Field(default=2048, ge=64)
    # Bulk uploads: lifetime of upload URLs, and files per manifest page.
    upload_url_ttl_s: int = Field(default=3600, ge=60)
    manifest_page_size: int = Field(default=1000, ge=1, le=10_000)
    # The sweep of stored objects nothing holds (originals left by an upload cut off before
    # its commit, staging files no pending entry awaits): how often each worker replica runs
    # it (0: never), and how old an object must be before it is looked at. The age covers an
    # upload between storing its original and committing it, and an original the catalogue
    # stored from an import until ``media.imported`` reaches ingest, bus outages included.
    # Daily: orphans come only from crashes, and each sweep looks at every original stored.
    orphan_sweep_interval_s: float = Field(default=24 * 3600, ge=0)
    orphan_grace_s: float = Field(default=24 * 3600, ge=60)
