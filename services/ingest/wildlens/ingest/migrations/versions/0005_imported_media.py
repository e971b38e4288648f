"""imported media: originals the catalogue stored from imports, held like uploads'; an index
on the content hash of uploads for the sweep of unreferenced originals

Revision ID: 0005_imported_media
Revises: 0004_upload_owners
Create Date: 2026-12-05 21:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import wildlens.common.db.base

revision: str = "0005_imported_media"
down_revision: str | Sequence[str] | None = "0004_upload_owners"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imported_media",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("object_key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("created_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imported_media")),
    )
    with op.batch_alter_table("imported_media", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_imported_media_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_imported_media_sha256"), ["sha256"], unique=False)
    with op.batch_alter_table("ingested_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingested_media_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ingested_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingested_media_sha256"))
    op.drop_table("imported_media")
