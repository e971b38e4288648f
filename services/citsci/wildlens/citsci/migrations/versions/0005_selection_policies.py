"""selection policies, clip subjects

Revision ID: 0005_selection_policies
Revises: 0004_zooniverse_classifications
Create Date: 2026-12-06 08:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import wildlens.common.db.base

revision: str = "0005_selection_policies"
down_revision: str | None = "0004_zooniverse_classifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "selection_policies",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("updated_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_selection_policies")),
    )
    with op.batch_alter_table("volunteer_subjects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("video_media_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("clip_start_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("clip_end_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("volunteer_subjects", schema=None) as batch_op:
        batch_op.drop_column("clip_end_s")
        batch_op.drop_column("clip_start_s")
        batch_op.drop_column("video_media_id")
    op.drop_table("selection_policies")
