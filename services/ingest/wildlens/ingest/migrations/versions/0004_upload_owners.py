"""bulk uploads: who opened each one, a person or a gateway, so that it stays theirs

Revision ID: 0004_upload_owners
Revises: 0003_merge_big_sizes
Create Date: 2027-01-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0004_upload_owners"
down_revision: str | Sequence[str] | None = "0003_merge_big_sizes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bulk_uploads", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "created_by_kind",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="user",
            )
        )
    # Gateways' tokens have had subjects of their own ("gateway:<device id>") from the start.
    op.execute(
        "UPDATE bulk_uploads SET created_by_kind = 'device' WHERE created_by LIKE 'gateway:%'"
    )


def downgrade() -> None:
    with op.batch_alter_table("bulk_uploads", schema=None) as batch_op:
        batch_op.drop_column("created_by_kind")
