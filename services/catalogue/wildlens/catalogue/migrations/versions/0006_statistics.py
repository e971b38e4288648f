"""statistics: media with a person's label, found without scanning every observation

Revision ID: 0006_statistics
Revises: 0005_merge
Create Date: 2026-11-22 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_statistics"
down_revision: str | None = "0005_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HUMAN = sa.text("classification_method = 'human'")


def upgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_observations_human_media",
            ["project_id", "media_id"],
            unique=False,
            postgresql_where=HUMAN,
            sqlite_where=HUMAN,
        )


def downgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index("ix_observations_human_media")
