"""training jobs queue for training workers; trained models keep their dataset, parent model
and evaluation report

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 01:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import wildlens.common.db.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "training_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("label_spec", sa.JSON(), nullable=False),
        sa.Column("architecture", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("hyperparameters", sa.JSON(), nullable=False),
        sa.Column("base_weights", sa.JSON(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("epochs", sa.Integer(), nullable=False),
        sa.Column("loss", sa.Float(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("eta_s", sa.Float(), nullable=True),
        sa.Column("log_tail", sa.JSON(), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=True),
        sa.Column("problem", sa.JSON(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "lease_expires_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=True
        ),
        sa.Column("created_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("started_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_jobs")),
    )
    with op.batch_alter_table("training_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_training_jobs_status"), ["status"], unique=False)
        batch_op.create_index(
            "ix_training_jobs_project_id_created_at", ["project_id", "created_at"], unique=False
        )

    with op.batch_alter_table("registered_models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("job_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("dataset_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("parent_model_id", sa.Uuid(), nullable=True))
        batch_op.add_column(
            sa.Column("evaluation_key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("registered_models", schema=None) as batch_op:
        batch_op.drop_column("evaluation_key")
        batch_op.drop_column("parent_model_id")
        batch_op.drop_column("dataset_id")
        batch_op.drop_column("job_id")
    with op.batch_alter_table("training_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_training_jobs_project_id_created_at")
        batch_op.drop_index(batch_op.f("ix_training_jobs_status"))
    op.drop_table("training_jobs")
