"""events keep the id an imported package gave them; event-level observations name their event

Revision ID: 0011_imported_events
Revises: 0010_model_run_info
Create Date: 2026-12-04 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011_imported_events"
down_revision: str | None = "0010_model_run_info"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_id", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_observations_event_id_events"),
            "events",
            ["event_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(batch_op.f("ix_observations_event_id"), ["event_id"])


def downgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observations_event_id"))
        batch_op.drop_constraint(batch_op.f("fk_observations_event_id_events"), type_="foreignkey")
        batch_op.drop_column("event_id")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("external_id")
