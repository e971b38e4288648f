"""Every metric of the ingest service. Labels are bounded: an outcome class, never an id."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["DUPLICATES", "ORPHANS_SWEPT", "RECEIVED_BYTES", "UPLOADS", "UPLOAD_DURATION"]

UPLOADS = Counter(
    "wildlens_ingest_uploads_total",
    "Single uploads (POST /v1/media) by outcome: accepted, duplicate, rejected_<reason>, aborted.",
    ["outcome"],
)
RECEIVED_BYTES = Counter(
    "wildlens_ingest_received_bytes_total",
    "File bytes received by single uploads, counted as they arrive (refused uploads included).",
)
UPLOAD_DURATION = Histogram(
    "wildlens_ingest_upload_duration_seconds",
    "Time from the start of a single upload to its answer, by outcome.",
    ["outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
)
DUPLICATES = Counter(
    "wildlens_ingest_duplicates_total",
    "Uploads answered with an existing media id, by how they were recognised "
    "(content: the same bytes; idempotency_key: a replayed Idempotency-Key).",
    ["reason"],
)
ORPHANS_SWEPT = Counter(
    "wildlens_ingest_orphans_swept_total",
    "Stored objects the sweep removed because nothing held them, by what they were "
    "(original: with its derivatives; staging: a bulk upload's file no pending entry awaits).",
    ["kind"],
)
