"""zooniverse classifications pulled back, retirement of Zooniverse subjects

Revision ID: 0004_zooniverse_classifications
Revises: 0003
Create Date: 2026-12-06 08:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import wildlens.common.db.base

revision: str = "0004_zooniverse_classifications"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("zooniverse_subjects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("width", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("height", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "retired_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "retirement_reason", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("consensus_version", sa.Integer(), nullable=False, server_default="0")
        )

    op.create_table(
        "zooniverse_classifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("zooniverse_classification_id", sa.BigInteger(), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("subject_set_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("volunteer", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("workflow_version", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("created_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("gold_standard", sa.Boolean(), nullable=False),
        sa.Column("expert", sa.Boolean(), nullable=False),
        sa.Column("nothing_here", sa.Boolean(), nullable=False),
        sa.Column("taxa", sa.JSON(), nullable=False),
        sa.Column("boxes", sa.JSON(), nullable=False),
        sa.Column("pulled_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["zooniverse_subjects.id"],
            name=op.f("fk_zooniverse_classifications_subject_id_zooniverse_subjects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zooniverse_classifications")),
        sa.UniqueConstraint(
            "zooniverse_classification_id",
            name=op.f("uq_zooniverse_classifications_zooniverse_classification_id"),
        ),
    )
    with op.batch_alter_table("zooniverse_classifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_zooniverse_classifications_subject_id"), ["subject_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_zooniverse_classifications_subject_set_id"),
            ["subject_set_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("zooniverse_classifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_zooniverse_classifications_subject_set_id"))
        batch_op.drop_index(batch_op.f("ix_zooniverse_classifications_subject_id"))
    op.drop_table("zooniverse_classifications")
    with op.batch_alter_table("zooniverse_subjects", schema=None) as batch_op:
        batch_op.drop_column("consensus_version")
        batch_op.drop_column("retirement_reason")
        batch_op.drop_column("retired_at")
        batch_op.drop_column("height")
        batch_op.drop_column("width")
