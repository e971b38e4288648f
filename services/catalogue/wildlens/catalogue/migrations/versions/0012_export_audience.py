"""exports record whether they may hold media with people

Revision ID: 0012_export_audience
Revises: 0011_imported_events
Create Date: 2026-12-10 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_export_audience"
down_revision: str | None = "0011_imported_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        # Exports made before this was recorded were made for whoever asked, people included.
        batch_op.add_column(
            sa.Column("with_people", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_column("with_people")
