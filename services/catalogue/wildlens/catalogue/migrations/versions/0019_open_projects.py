"""projects open to volunteers

Revision ID: 0019_open_projects
Revises: 0018_objects
Create Date: 2026-12-06 08:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_open_projects"
down_revision: str | None = "0018_objects"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(
            sa.Column("open_to_volunteers", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("open_to_volunteers")
