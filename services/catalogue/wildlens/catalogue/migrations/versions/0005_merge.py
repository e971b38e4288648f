"""join the identity, taxonomy and Camtrap DP branches

Revision ID: 0005_merge
Revises: 0004_identity, 0004_taxonomy, 0004_camtrapdp
Create Date: 2026-11-22 21:10:00.000000
"""

from collections.abc import Sequence

revision: str = "0005_merge"
down_revision: str | Sequence[str] | None = ("0004_identity", "0004_taxonomy", "0004_camtrapdp")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
