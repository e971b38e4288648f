"""top-k labels, uncertainty and volunteers' consensus

Revision ID: 0017_top_k_consensus
Revises: 0016_review_scores
Create Date: 2026-12-06 05:00:00.000000

Machine observations keep their classifier's top-k with its entropy and margin, which the
review queue's kept score parts (``review_scores``) now read too: the trigger that notes a
medium whose observation changed compares those columns as well, and every project is noted
once so that the first read of its queue scores it with them. Volunteers' consensus
observations keep where they came from in ``volunteer_consensus``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import wildlens.common.db.base

revision: str = "0017_top_k_consensus"
down_revision: str | None = "0016_review_scores"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0016's columns, then the uncertainty.
OLD_COLUMNS = (
    "project_id",
    "media_id",
    "model_run_id",
    "observation_type",
    "taxon_id",
    "scientific_name",
    "confidence",
    "classification_confidence",
    "classification_method",
    "classified_by",
    "classified_at",
    "verification_state",
    "verified_by",
)
NEW_COLUMNS = (*OLD_COLUMNS, "classification_entropy", "classification_margin")


def _pg_updated(columns: Sequence[str]) -> str:
    old = ", ".join(f"o.{c}" for c in columns)
    new = ", ".join(f"n.{c}" for c in columns)
    return (
        "CREATE OR REPLACE FUNCTION wl_review_observations_updated() RETURNS trigger "
        "LANGUAGE plpgsql SET search_path FROM CURRENT AS $$ BEGIN "
        "INSERT INTO review_score_changes (project_id, media_id) "
        "SELECT DISTINCT side.project_id, side.media_id "
        "FROM old_rows o JOIN new_rows n ON n.id = o.id "
        "CROSS JOIN LATERAL (VALUES (o.project_id, o.media_id), (n.project_id, n.media_id)) "
        "AS side(project_id, media_id) "
        f"WHERE ({old}) IS DISTINCT FROM ({new}) AND side.media_id IS NOT NULL; "
        "RETURN NULL; END $$"
    )


def _sqlite_updated(columns: Sequence[str]) -> list[str]:
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)
    note = (
        "INSERT INTO review_score_changes (project_id, media_id) "
        "SELECT {p}, {m} WHERE {m} IS NOT NULL;"
    )
    body = note.format(p="OLD.project_id", m="OLD.media_id") + note.format(
        p="NEW.project_id", m="NEW.media_id"
    )
    return [
        "DROP TRIGGER IF EXISTS wl_review_observations_updated",
        f"CREATE TRIGGER wl_review_observations_updated AFTER UPDATE ON observations "
        f"WHEN {changed} BEGIN {body} END",
    ]


def _retrigger(columns: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_pg_updated(columns))
    else:
        for statement in _sqlite_updated(columns):
            op.execute(statement)


def upgrade() -> None:
    with op.batch_alter_table("observations") as batch:
        batch.add_column(sa.Column("top_labels", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("classification_entropy", sa.Float(), nullable=True))
        batch.add_column(sa.Column("classification_margin", sa.Float(), nullable=True))
    with op.batch_alter_table("review_scores") as batch:
        batch.add_column(sa.Column("entropy", sa.Float(), nullable=True))
        batch.add_column(sa.Column("margin", sa.Float(), nullable=True))
    op.create_table(
        "volunteer_consensus",
        sa.Column("observation_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("consensus_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("workflow_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("subject_set_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("platform", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.Column("agreement", sa.Float(), nullable=False),
        sa.Column("classification_count", sa.Integer(), nullable=False),
        sa.Column("pielou_evenness", sa.Float(), nullable=False),
        sa.Column("fraction_blank", sa.Float(), nullable=False),
        sa.Column("boxes", sa.JSON(), nullable=False),
        sa.Column("retirement_reason", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("retired_at", wildlens.common.db.base.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["observation_id"],
            ["observations.id"],
            name=op.f("fk_volunteer_consensus_observation_id_observations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_volunteer_consensus_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("observation_id", name=op.f("pk_volunteer_consensus")),
    )
    op.create_index(
        op.f("ix_volunteer_consensus_consensus_id"), "volunteer_consensus", ["consensus_id"]
    )
    op.create_index(
        op.f("ix_volunteer_consensus_project_id"), "volunteer_consensus", ["project_id"]
    )
    _retrigger(NEW_COLUMNS)
    # Every project's queue scored afresh, with the uncertainty, on its first read.
    op.execute(
        "INSERT INTO review_score_changes (project_id) SELECT DISTINCT project_id FROM media"
    )


def downgrade() -> None:
    _retrigger(OLD_COLUMNS)
    op.drop_index(op.f("ix_volunteer_consensus_project_id"), table_name="volunteer_consensus")
    op.drop_index(op.f("ix_volunteer_consensus_consensus_id"), table_name="volunteer_consensus")
    op.drop_table("volunteer_consensus")
    with op.batch_alter_table("review_scores") as batch:
        batch.drop_column("margin")
        batch.drop_column("entropy")
    with op.batch_alter_table("observations") as batch:
        batch.drop_column("classification_margin")
        batch.drop_column("classification_entropy")
        batch.drop_column("top_labels")
    op.execute(
        "INSERT INTO review_score_changes (project_id) SELECT DISTINCT project_id FROM media"
    )
