"""bulk uploads: upload sessions and their manifests

Revision ID: 0002_bulk
Revises: 0001
Create Date: 2026-11-22 20:10:04.118233
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import wildlens.common.db.base

revision: str = "0002_bulk"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulk_uploads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("deployment_id", sa.Uuid(), nullable=True),
        sa.Column("device_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("created_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_uploads")),
    )
    with op.batch_alter_table("bulk_uploads", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bulk_uploads_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "bulk_upload_files",
        sa.Column("upload_id", sa.Uuid(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("media_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id"],
            ["bulk_uploads.id"],
            name=op.f("fk_bulk_upload_files_upload_id_bulk_uploads"),
        ),
        sa.PrimaryKeyConstraint("upload_id", "n", name=op.f("pk_bulk_upload_files")),
        sa.UniqueConstraint(
            "upload_id", "sha256", name=op.f("uq_bulk_upload_files_upload_id_sha256")
        ),
    )


def downgrade() -> None:
    op.drop_table("bulk_upload_files")
    with op.batch_alter_table("bulk_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bulk_uploads_project_id"))

    op.drop_table("bulk_uploads")
