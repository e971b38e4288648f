"""import jobs: large imports staged in the object store and run by a worker

Revision ID: 0015_import_jobs
Revises: 0014_announce_imported_originals
Create Date: 2026-12-05 22:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import wildlens.common.db.base

revision: str = "0015_import_jobs"
down_revision: str | None = "0014_announce_imported_originals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, wildlens.common.db.base.UtcDateTime(timezone=True), nullable=nullable)


def _text(name: str, length: int | None = None) -> sa.Column[object]:
    return sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=length), nullable=False)


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        _text("format", 20),
        _text("status", 20),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("problems", sa.JSON(), nullable=False),
        _text("error"),
        _text("created_by", 200),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _text("lease_owner", 200),
        _timestamp("lease_expires_at"),
        _timestamp("created_at", nullable=False),
        _timestamp("started_at"),
        _timestamp("finished_at"),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_import_jobs_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
    )
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_jobs_project_id"), ["project_id"])
        batch_op.create_index(batch_op.f("ix_import_jobs_status"), ["status"])
        batch_op.create_index(batch_op.f("ix_import_jobs_created_at"), ["created_at"])


def downgrade() -> None:
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_jobs_created_at"))
        batch_op.drop_index(batch_op.f("ix_import_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_import_jobs_project_id"))
    op.drop_table("import_jobs")
