"""model bundles of any size arrive through PUT URLs and are checked and registered as jobs

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 21:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import wildlens.common.db.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_uploads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("model_bytes", sa.BigInteger(), nullable=False),
        sa.Column("manifest_bytes", sa.BigInteger(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=True),
        sa.Column("problem", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "lease_expires_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("swept", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_uploads")),
    )
    with op.batch_alter_table("model_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_uploads_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_model_uploads_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("model_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_uploads_expires_at"))
        batch_op.drop_index(batch_op.f("ix_model_uploads_status"))
    op.drop_table("model_uploads")
