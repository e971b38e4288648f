"""join the idempotency and bulk-upload branches; sizes as 64-bit integers (videos > 2 GiB)

Revision ID: 0003_merge_big_sizes
Revises: 0002_idempotency, 0002_bulk
Create Date: 2026-11-22 20:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_merge_big_sizes"
down_revision: str | Sequence[str] | None = ("0002_idempotency", "0002_bulk")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ingested_media", schema=None) as batch_op:
        batch_op.alter_column(
            "size_bytes", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ingested_media", schema=None) as batch_op:
        batch_op.alter_column(
            "size_bytes", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
        )
