"""memberships looked up by subject (token exchange)

Revision ID: 0004_identity
Revises: 0003_big_media_sizes
Create Date: 2026-11-22 21:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004_identity"
down_revision: str | None = "0003_big_media_sizes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_subject"), ["subject"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memberships_subject"))
