"""observations: partial indexes on external_id and verification_state, without machine rows

The machine's observations (most of them) have no external id and stay predicted; indexing
them cost every analysed medium index entries that no query reads. Imports look up external
ids with ``=`` / ``IN`` and the review queue and list filters ask for validated, dubious or
discarded observations of one project: both find their rows through these partial indexes.

Revision ID: 0008_observation_indexes
Revises: 0007_merge
Create Date: 2026-11-23 02:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_observation_indexes"
down_revision: str | None = "0007_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

IMPORTED = sa.text("external_id IS NOT NULL")
VERIFIED = sa.text("verification_state <> 'predicted'")


def upgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index("ix_observations_verification_state")
        batch_op.drop_index("ix_observations_external_id")
        batch_op.create_index(
            "ix_observations_external_id",
            ["external_id"],
            unique=False,
            postgresql_where=IMPORTED,
            sqlite_where=IMPORTED,
        )
        batch_op.create_index(
            "ix_observations_verified",
            ["project_id", "verification_state"],
            unique=False,
            postgresql_where=VERIFIED,
            sqlite_where=VERIFIED,
        )


def downgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_index("ix_observations_verified")
        batch_op.drop_index("ix_observations_external_id")
        batch_op.create_index("ix_observations_external_id", ["external_id"], unique=False)
        batch_op.create_index(
            "ix_observations_verification_state", ["verification_state"], unique=False
        )
