"""review queue: each unverified medium's score parts, kept current through triggers

Revision ID: 0016_review_scores
Revises: 0015_import_jobs
Create Date: 2026-12-05 22:00:00.000000

The review queue ordered a page by aggregating every unverified observation of the project;
it reads ``review_scores`` instead, one row per medium and species its newest run names
(see ``models.review``). Every change that can change a medium's parts notes the medium in
``review_score_changes``, in the same transaction, from a trigger: an observation added,
corrected, judged, discarded, re-timed, moved or deleted; a medium added, deleted, moved to
another project or analysed (one nobody analysed is queued as such). On PostgreSQL the
triggers run once per statement over its transition tables, as the statistics' do.

Each project's existing media are noted once (``media_id`` None: the whole project), so the
first read of its queue computes them all.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0016_review_scores"
down_revision: str | None = "0015_import_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The observation columns a medium's score parts read; an update of any other (the smoothed
# label, comments, the box) changes nothing the queue holds.
OBSERVATION_COLUMNS = (
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
# A medium's: its project, and whether it awaits analysis.
MEDIA_COLUMNS = ("project_id", "status")


def _differ(old: str, new: str, columns: Sequence[str]) -> str:
    return (
        f"({', '.join(f'{old}.{c}' for c in columns)}) "
        f"IS DISTINCT FROM ({', '.join(f'{new}.{c}' for c in columns)})"
    )


PG_FUNCTIONS = {
    "wl_review_observations_changed": """
        INSERT INTO review_score_changes (project_id, media_id)
        SELECT DISTINCT project_id, media_id FROM changed_rows WHERE media_id IS NOT NULL;
    """,
    "wl_review_observations_updated": f"""
        INSERT INTO review_score_changes (project_id, media_id)
        SELECT DISTINCT side.project_id, side.media_id
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES (o.project_id, o.media_id), (n.project_id, n.media_id))
             AS side(project_id, media_id)
        WHERE {_differ("o", "n", OBSERVATION_COLUMNS)} AND side.media_id IS NOT NULL;
    """,
    "wl_review_media_changed": """
        INSERT INTO review_score_changes (project_id, media_id)
        SELECT project_id, id FROM changed_rows;
    """,
    "wl_review_media_updated": f"""
        INSERT INTO review_score_changes (project_id, media_id)
        SELECT DISTINCT side.project_id, n.id
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES (o.project_id), (n.project_id)) AS side(project_id)
        WHERE {_differ("o", "n", MEDIA_COLUMNS)};
    """,
}
PG_TRIGGERS = [
    # (trigger, table, event, transition tables, function)
    (
        "wl_review_observations_inserted",
        "observations",
        "INSERT",
        "NEW TABLE AS changed_rows",
        "wl_review_observations_changed",
    ),
    (
        "wl_review_observations_deleted",
        "observations",
        "DELETE",
        "OLD TABLE AS changed_rows",
        "wl_review_observations_changed",
    ),
    (
        "wl_review_observations_updated",
        "observations",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "wl_review_observations_updated",
    ),
    (
        "wl_review_media_inserted",
        "media",
        "INSERT",
        "NEW TABLE AS changed_rows",
        "wl_review_media_changed",
    ),
    (
        "wl_review_media_deleted",
        "media",
        "DELETE",
        "OLD TABLE AS changed_rows",
        "wl_review_media_changed",
    ),
    (
        "wl_review_media_updated",
        "media",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "wl_review_media_updated",
    ),
]


def _sqlite_note(project: str, media: str) -> str:
    return (
        "INSERT INTO review_score_changes (project_id, media_id) "
        f"SELECT {project}, {media} WHERE {media} IS NOT NULL;"
    )


def _sqlite_changed(columns: Sequence[str]) -> str:
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)


SQLITE_TRIGGERS = {
    "wl_review_observations_inserted": (
        "AFTER INSERT ON observations WHEN NEW.media_id IS NOT NULL",
        _sqlite_note("NEW.project_id", "NEW.media_id"),
    ),
    "wl_review_observations_deleted": (
        "AFTER DELETE ON observations WHEN OLD.media_id IS NOT NULL",
        _sqlite_note("OLD.project_id", "OLD.media_id"),
    ),
    "wl_review_observations_updated": (
        f"AFTER UPDATE ON observations WHEN {_sqlite_changed(OBSERVATION_COLUMNS)}",
        _sqlite_note("OLD.project_id", "OLD.media_id")
        + _sqlite_note("NEW.project_id", "NEW.media_id"),
    ),
    "wl_review_media_inserted": ("AFTER INSERT ON media", _sqlite_note("NEW.project_id", "NEW.id")),
    "wl_review_media_deleted": ("AFTER DELETE ON media", _sqlite_note("OLD.project_id", "OLD.id")),
    "wl_review_media_updated": (
        f"AFTER UPDATE ON media WHEN {_sqlite_changed(MEDIA_COLUMNS)}",
        _sqlite_note("OLD.project_id", "NEW.id") + _sqlite_note("NEW.project_id", "NEW.id"),
    ),
}


def _create_tables() -> None:
    op.create_table(
        "review_scores",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("media_id", sa.Uuid(), nullable=False),
        sa.Column("species", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("species_count", sa.Integer(), nullable=False),
        sa.Column("lowest", sa.Float(), nullable=True),
        sa.Column("volunteers_disagree", sa.Boolean(), nullable=False),
        sa.Column("models_disagree", sa.Boolean(), nullable=False),
        sa.Column("not_analysed", sa.Boolean(), nullable=False),
        sa.Column("base", sa.Float(), nullable=False),
        sa.Column("descending", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_scores")),
    )
    op.create_index(
        "ix_review_scores_order",
        "review_scores",
        ["project_id", "species", "descending", "media_id"],
    )
    op.create_index("ix_review_scores_media", "review_scores", ["media_id"])
    op.create_table(
        "review_score_changes",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("media_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_score_changes")),
    )
    op.create_index("ix_review_score_changes_project", "review_score_changes", ["project_id"])


def upgrade() -> None:
    _create_tables()
    if op.get_bind().dialect.name == "postgresql":
        # As for the statistics' summaries: pages read the index, whose visibility map
        # stays current when autovacuum visits after a few per cent of changes.
        op.execute(
            "ALTER TABLE review_scores SET (autovacuum_vacuum_scale_factor = 0.02, "
            "autovacuum_vacuum_insert_scale_factor = 0.02, "
            "autovacuum_analyze_scale_factor = 0.02)"
        )
        for name, body in PG_FUNCTIONS.items():
            op.execute(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
                f"SET search_path FROM CURRENT AS $$ BEGIN {body} RETURN NULL; END $$"
            )
        for trigger, table, event, transitions, function in PG_TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {trigger} AFTER {event} ON {table} "
                f"REFERENCING {transitions} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
    else:
        for trigger, (when, body) in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {trigger} {when} BEGIN {body} END")
    # What is already there is scored by the first refresh, a whole project at a time.
    op.execute(
        "INSERT INTO review_score_changes (project_id) SELECT DISTINCT project_id FROM media"
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for trigger, table, *_ in PG_TRIGGERS:
        op.execute(
            f"DROP TRIGGER IF EXISTS {trigger} ON {table}"
            if postgresql
            else f"DROP TRIGGER IF EXISTS {trigger}"
        )
    if postgresql:
        for name in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table("review_score_changes")
    op.drop_table("review_scores")
