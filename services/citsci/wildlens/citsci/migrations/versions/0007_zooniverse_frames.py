"""Zooniverse subjects show several media (an event's pictures, a video clip's frames);
the newest of a project's volunteer classifications found by index

Revision ID: 0007_zooniverse_frames
Revises: 0006_volunteer_methods
Create Date: 2026-12-06 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_zooniverse_frames"
down_revision: str | None = "0006_volunteer_methods"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("zooniverse_subjects") as batch:
        batch.add_column(sa.Column("media_ids", sa.JSON(), nullable=True))
    op.create_index(
        "ix_volunteer_classifications_project_created",
        "volunteer_classifications",
        ["project_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_volunteer_classifications_project_created", table_name="volunteer_classifications"
    )
    with op.batch_alter_table("zooniverse_subjects") as batch:
        batch.drop_column("media_ids")
