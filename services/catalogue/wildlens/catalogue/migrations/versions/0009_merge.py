"""join the list indexes, observation indexes and statistics summaries branches

Revision ID: 0009_merge
Revises: 0008_list_indexes, 0008_observation_indexes, 0008_statistics_summaries
Create Date: 2026-11-23 03:00:00.000000
"""

from collections.abc import Sequence

revision: str = "0009_merge"
down_revision: str | Sequence[str] | None = (
    "0008_list_indexes",
    "0008_observation_indexes",
    "0008_statistics_summaries",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
