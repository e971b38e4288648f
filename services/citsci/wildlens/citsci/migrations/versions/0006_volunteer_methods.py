"""built-in sets choose their consensus method

Revision ID: 0006_volunteer_methods
Revises: 0005_selection_policies
Create Date: 2026-12-06 08:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0006_volunteer_methods"
down_revision: str | None = "0005_selection_policies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subject_sets") as batch:
        batch.add_column(
            sa.Column(
                "consensus_method",
                sqlmodel.sql.sqltypes.AutoString(length=20),
                nullable=False,
                server_default="plurality",
            )
        )
    with op.batch_alter_table("volunteer_subjects") as batch:
        batch.add_column(
            sa.Column(
                "consensus_method", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("volunteer_subjects") as batch:
        batch.drop_column("consensus_method")
    with op.batch_alter_table("subject_sets") as batch:
        batch.drop_column("consensus_method")
