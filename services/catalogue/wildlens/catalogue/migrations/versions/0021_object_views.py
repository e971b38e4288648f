"""an object's other images (EcoTaxa's img_rank above 0)

Revision ID: 0021_object_views
Revises: 0020_sample_bins
Create Date: 2026-12-06 09:00:00.000000

A FlowCam or IFCB object may come with several views of one object_id. The rank-0 image is
the object's medium (classified and shown); the others are kept on the object, each with its
rank, stored file and name, so an export gives them back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_object_views"
down_revision: str | None = "0020_sample_bins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("views", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.drop_column("views")
