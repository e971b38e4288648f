"""join the events, verification, statistics, alerts/privacy and exchange branches

Revision ID: 0007_merge
Revises: 0006_events, 0006_verification, 0006_statistics, 0006_alerts_privacy, 0006_exchange
Create Date: 2026-11-22 23:35:00.000000
"""

from collections.abc import Sequence

revision: str = "0007_merge"
down_revision: str | Sequence[str] | None = (
    "0006_events",
    "0006_verification",
    "0006_statistics",
    "0006_alerts_privacy",
    "0006_exchange",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
