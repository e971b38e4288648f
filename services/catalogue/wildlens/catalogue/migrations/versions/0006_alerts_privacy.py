"""privacy settings and sensitive taxa; alert rules, their webhook deliveries and attempts

Revision ID: 0006_alerts_privacy
Revises: 0005_merge
Create Date: 2026-11-22 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import wildlens.common.db.base

revision: str = "0006_alerts_privacy"
down_revision: str | None = "0005_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_String = sqlmodel.sql.sqltypes.AutoString
_Time = wildlens.common.db.base.UtcDateTime


def upgrade() -> None:
    op.create_table(
        "project_privacy",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("coordinate_precision", sa.Float(), nullable=False),
        sa.Column("hide_people", sa.Boolean(), nullable=False),
        sa.Column("updated_by", _String(length=200), nullable=False),
        sa.Column("updated_at", _Time(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_privacy_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_project_privacy")),
    )
    op.create_table(
        "sensitive_taxa",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("taxon_id", sa.Uuid(), nullable=False),
        sa.Column("added_by", _String(length=200), nullable=False),
        sa.Column("added_at", _Time(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_sensitive_taxa_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["taxon_id"], ["taxa.id"], name=op.f("fk_sensitive_taxa_taxon_id_taxa")
        ),
        sa.PrimaryKeyConstraint("project_id", "taxon_id", name=op.f("pk_sensitive_taxa")),
    )
    with op.batch_alter_table("sensitive_taxa", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sensitive_taxa_taxon_id"), ["taxon_id"], unique=False)

    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", _String(length=200), nullable=False),
        sa.Column("taxon_id", sa.Uuid(), nullable=True),
        sa.Column("observation_type", _String(length=20), nullable=True),
        sa.Column("min_confidence", sa.Float(), nullable=False),
        sa.Column("location_ids", sa.JSON(), nullable=False),
        sa.Column("time_from", _String(length=5), nullable=True),
        sa.Column("time_to", _String(length=5), nullable=True),
        sa.Column("date_from", sa.Date(), nullable=True),
        sa.Column("date_to", sa.Date(), nullable=True),
        sa.Column("webhook_url", _String(length=2000), nullable=False),
        sa.Column("secret", _String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", _String(length=200), nullable=False),
        sa.Column("created_at", _Time(timezone=True), nullable=False),
        sa.Column("updated_at", _Time(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_alert_rules_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["taxon_id"], ["taxa.id"], name=op.f("fk_alert_rules_taxon_id_taxa")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
    )
    with op.batch_alter_table("alert_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_rules_project_id"), ["project_id"], unique=False)

    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("media_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", _String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _Time(timezone=True), nullable=False),
        sa.Column("last_error", _String(length=2000), nullable=False),
        sa.Column("created_at", _Time(timezone=True), nullable=False),
        sa.Column("delivered_at", _Time(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["alert_rules.id"],
            name=op.f("fk_alert_deliveries_rule_id_alert_rules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_alert_deliveries_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["media_id"],
            ["media.id"],
            name=op.f("fk_alert_deliveries_media_id_media"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint(
            "rule_id", "media_id", name=op.f("uq_alert_deliveries_rule_id_media_id")
        ),
    )
    with op.batch_alter_table("alert_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_deliveries_rule_id"), ["rule_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_alert_deliveries_project_id"), ["project_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_alert_deliveries_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_alert_deliveries_next_attempt_at"), ["next_attempt_at"], unique=False
        )

    op.create_table(
        "alert_delivery_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", _Time(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", _String(length=2000), nullable=False),
        sa.Column("outcome", _String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["alert_deliveries.id"],
            name=op.f("fk_alert_delivery_attempts_delivery_id_alert_deliveries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_delivery_attempts")),
    )
    with op.batch_alter_table("alert_delivery_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_alert_delivery_attempts_delivery_id"), ["delivery_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("alert_delivery_attempts")
    op.drop_table("alert_deliveries")
    op.drop_table("alert_rules")
    op.drop_table("sensitive_taxa")
    op.drop_table("project_privacy")
