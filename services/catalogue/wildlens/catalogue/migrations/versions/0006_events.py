"""events (sequences) with smoothed labels; camera clock drift; media placement and grouping

Revision ID: 0006_events
Revises: 0005_merge
Create Date: 2026-11-22 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import wildlens.common.db.base

revision: str = "0006_events"
down_revision: str | None = "0005_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, wildlens.common.db.base.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("deployment_id", sa.Uuid(), nullable=False),
        _timestamp("start", nullable=False),
        _timestamp("end", nullable=False),
        sa.Column("media_count", sa.Integer(), nullable=False),
        sa.Column(
            "label_scientific_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False
        ),
        sa.Column("label_taxon_id", sa.Uuid(), nullable=True),
        sa.Column("label_method", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("label_votes", sa.Integer(), nullable=False),
        sa.Column("label_total", sa.Integer(), nullable=False),
        _timestamp("created_at", nullable=False),
        _timestamp("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_events_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_events_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_project_id"), "events", ["project_id"])
    op.create_index("ix_events_deployment_id_start", "events", ["deployment_id", "start"])

    # Projects made before: the field's usual independence interval.
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "independence_interval_s", sa.Integer(), nullable=False, server_default="1800"
            )
        )

    # Deployments made before: a clock without drift.
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("clock_drift_seconds", sa.Float(), nullable=False, server_default="0")
        )
        batch_op.add_column(_timestamp("clock_checked_at", nullable=True))

    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deployment_pinned", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("event_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_media_event_id_events"),
            "events",
            ["event_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_media_event_id"), ["event_id"])
        batch_op.create_index("ix_media_deployment_captured_at", ["deployment_id", "captured_at"])
        batch_op.create_index("ix_media_device_id", ["device_id"])

    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "smoothed_scientific_name",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("smoothed_taxon_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_column("smoothed_taxon_id")
        batch_op.drop_column("smoothed_scientific_name")

    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index("ix_media_device_id")
        batch_op.drop_index("ix_media_deployment_captured_at")
        batch_op.drop_index(batch_op.f("ix_media_event_id"))
        batch_op.drop_constraint(batch_op.f("fk_media_event_id_events"), type_="foreignkey")
        batch_op.drop_column("event_id")
        batch_op.drop_column("deployment_pinned")

    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_column("clock_checked_at")
        batch_op.drop_column("clock_drift_seconds")

    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("independence_interval_s")

    op.drop_index("ix_events_deployment_id_start", table_name="events")
    op.drop_index(op.f("ix_events_project_id"), table_name="events")
    op.drop_table("events")
