"""lists: a project's event-level observations in id order, without walking every observation

Revision ID: 0008_list_indexes
Revises: 0007_merge
Create Date: 2026-11-23 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_list_indexes"
down_revision: str | None = "0007_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVENT_LEVEL = sa.text("media_id IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_observations_event_level",
            ["project_id", "id"],
            unique=False,
            postgresql_where=EVENT_LEVEL,
            sqlite_where=EVENT_LEVEL,
        )


def downgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index("ix_observations_event_level")
