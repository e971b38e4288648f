"""observation verification states and history; the audit log of deletions

Revision ID: 0006_verification
Revises: 0005_merge
Create Date: 2026-11-22 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import wildlens.common.db.base

revision: str = "0006_verification"
down_revision: str | None = "0005_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("classification_confidence", sa.Float(), nullable=True))
        # Rows recorded before verification existed are as the machine or import left them.
        batch_op.add_column(
            sa.Column(
                "verification_state",
                sqlmodel.sql.sqltypes.AutoString(length=10),
                nullable=False,
                server_default="predicted",
            )
        )
        batch_op.add_column(
            sa.Column(
                "verified_by",
                sqlmodel.sql.sqltypes.AutoString(length=300),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column(
                "verified_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_index(
            batch_op.f("ix_observations_verification_state"), ["verification_state"], unique=False
        )

    op.create_table(
        "observation_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("observation_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("changed_by", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("changed_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observations.id"],
            name=op.f("fk_observation_history_observation_id_observations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_observation_history_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_history")),
        sa.UniqueConstraint(
            "observation_id", "version", name=op.f("uq_observation_history_observation_id_version")
        ),
    )
    with op.batch_alter_table("observation_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_observation_history_observation_id"), ["observation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_observation_history_project_id"), ["project_id"], unique=False
        )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("object_type", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("object_id", sa.Uuid(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_project_at", ["project_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_project_at")
    op.drop_table("audit_log")
    with op.batch_alter_table("observation_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observation_history_project_id"))
        batch_op.drop_index(batch_op.f("ix_observation_history_observation_id"))
    op.drop_table("observation_history")
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observations_verification_state"))
        batch_op.drop_column("verified_at")
        batch_op.drop_column("verified_by")
        batch_op.drop_column("verification_state")
        batch_op.drop_column("classification_confidence")
