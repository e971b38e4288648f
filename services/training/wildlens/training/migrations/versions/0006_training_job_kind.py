"""training jobs train a classifier or a detector

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Every job before this one trained a classifier.
    op.add_column(
        "training_jobs",
        sa.Column(
            "kind",
            sqlmodel.sql.sqltypes.AutoString(length=20),
            nullable=False,
            server_default="classifier",
        ),
    )


def downgrade() -> None:
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("kind")
