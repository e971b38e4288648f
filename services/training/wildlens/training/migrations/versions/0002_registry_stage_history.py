"""the registry keeps bundles users bring, and who changed each model's stage

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 22:40:19.000713
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import wildlens.common.db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "model_stage_changes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("from_stage", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("to_stage", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("changed_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("changed_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["registered_models.id"],
            name=op.f("fk_model_stage_changes_model_id_registered_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_stage_changes")),
    )
    with op.batch_alter_table("model_stage_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_model_stage_changes_model_id"), ["model_id"], unique=False
        )

    with op.batch_alter_table("registered_models", schema=None) as batch_op:
        # Rows from before were trained here (nothing else could register a model).
        batch_op.add_column(
            sa.Column(
                "source",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="trained",
            )
        )
        batch_op.add_column(
            sa.Column(
                "registered_by",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("size_bytes", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            "ix_registered_models_kind_project_stage", ["kind", "project_id", "stage"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("registered_models", schema=None) as batch_op:
        batch_op.drop_index("ix_registered_models_kind_project_stage")
        batch_op.drop_column("size_bytes")
        batch_op.drop_column("registered_by")
        batch_op.drop_column("source")

    with op.batch_alter_table("model_stage_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_stage_changes_model_id"))

    op.drop_table("model_stage_changes")
