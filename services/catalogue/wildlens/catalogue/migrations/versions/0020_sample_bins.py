"""a sample's images per depth bin (UVP profiles)

Revision ID: 0020_sample_bins
Revises: 0019_open_projects
Create Date: 2026-12-06 08:00:00.000000

A UVP's concentrations divide each depth bin's count by the water it imaged there: the
acquisition's volume per image times the images taken in the bin. Those image counts come
beside the TSV (the instrument's own files, not one row per object), kept on the sample.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_sample_bins"
down_revision: str | None = "0019_open_projects"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.add_column(sa.Column("depth_bins", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("samples", schema=None) as batch_op:
        batch_op.drop_column("depth_bins")
