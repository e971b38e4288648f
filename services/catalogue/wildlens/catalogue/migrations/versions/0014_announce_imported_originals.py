"""media imported before ingest was told of them: announced now as ``media.imported``

Revision ID: 0014_announce_imported_originals
Revises: 0013_detection_records
Create Date: 2026-12-05 22:00:00.000000

A Camtrap DP package's files are stored by the catalogue itself. Until now ingest heard
nothing of them: no display copy was made (callers without ``precise_locations`` saw
``display_copy_pending`` for good), and nothing in ingest held the originals, which its sweep
of unreferenced originals would take. Every such medium already recorded (a stored original
under ``media/``, not a frame, not uploaded through ingest) is staged in the outbox once, as
an import now stages it; the relay sends them after the upgrade commits.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from wildlens.common.db.base import UtcDateTime
from wildlens.common.events import encode, new_envelope
from wildlens.common.events.v1.media_pb2 import MediaImported, MediaKind

revision: str = "0014_announce_imported_originals"
down_revision: str | None = "0013_detection_records"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000


def upgrade() -> None:
    connection = op.get_bind()
    outbox = sa.table(
        "outbox",
        sa.column("event_id", sa.String),
        sa.column("type", sa.String),
        sa.column("body", sa.LargeBinary),
        sa.column("created_at", UtcDateTime()),
    )
    rows = connection.execute(
        sa.text(
            "SELECT id, project_id, sha256, object_key, content_type, kind FROM media "
            "WHERE object_key LIKE 'media/%' AND parent_media_id IS NULL AND uploaded_by = ''"
        )
    ).all()
    for start in range(0, len(rows), _BATCH):
        staged = []
        for row in rows[start : start + _BATCH]:
            envelope = new_envelope(
                MediaImported(
                    # SQLite hands ids back as bare hex: written the way the catalogue writes them.
                    media_id=str(uuid.UUID(str(row.id))),
                    project_id=str(uuid.UUID(str(row.project_id))),
                    sha256=row.sha256,
                    object_key=row.object_key,
                    content_type=row.content_type,
                    kind=MediaKind.MEDIA_KIND_VIDEO
                    if row.kind == "video"
                    else MediaKind.MEDIA_KIND_IMAGE,
                ),
                producer="catalogue@migration",
            )
            staged.append(
                {
                    "event_id": envelope.event_id,
                    "type": envelope.type,
                    "body": encode(envelope),
                    "created_at": datetime.now(UTC),
                }
            )
        connection.execute(outbox.insert(), staged)


def downgrade() -> None:
    # Announcements already sent cannot be taken back; ingest holds the originals either way.
    pass
