"""statistics: per-minute summaries of detection records, kept current through triggers

Revision ID: 0008_statistics_summaries
Revises: 0007_merge
Create Date: 2026-11-23 02:30:00.000000

Every change that can change a statistic (an animal label added, corrected, verified,
discarded or deleted; a medium added, deleted, re-timed or moved to another deployment; a
deployment's location or clock offset; a taxon's name) notes its (deployment, minute) in
``summary_changes``, in the same transaction, from a trigger: no writer can forget to,
cascaded deletes included. On
PostgreSQL the triggers run once per statement over its transition tables, so a batch of
observations costs one insert of its distinct minutes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0008_statistics_summaries"
down_revision: str | None = "0007_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The observation columns a statistic reads; an update of any other (the smoothed label,
# comments) changes nothing the summaries hold.
OBSERVATION_COLUMNS = (
    "observation_type",
    "verification_state",
    "classification_method",
    "taxon_id",
    "scientific_name",
    "count",
    "media_id",
    "deployment_id",
    "event_start",
)

PG_MINUTE = "floor(extract(epoch FROM {0}) / 60)::bigint"
SQLITE_MINUTE = "CAST(strftime('%s', {0}) AS INTEGER) / 60"

# Functions run with the schema they were made in, whoever's connection fires them.
PG_FUNCTIONS = {
    # Observations: the minutes of the media they label, or the event's start for
    # event-level ones. Rows other than animals leave every statistic as it was.
    "wl_summary_observations_changed": f"""
        INSERT INTO summary_changes (project_id, deployment_id, minute)
        SELECT DISTINCT m.project_id, m.deployment_id, {PG_MINUTE.format("m.captured_at")}
        FROM changed_rows r JOIN media m ON m.id = r.media_id
        WHERE r.observation_type = 'animal' AND m.deployment_id IS NOT NULL
        UNION
        SELECT DISTINCT r.project_id, r.deployment_id, {PG_MINUTE.format("r.event_start")}
        FROM changed_rows r
        WHERE r.observation_type = 'animal' AND r.media_id IS NULL
          AND r.deployment_id IS NOT NULL AND r.event_start IS NOT NULL;
    """,
    "wl_summary_observations_updated": f"""
        INSERT INTO summary_changes (project_id, deployment_id, minute)
        SELECT DISTINCT m.project_id, m.deployment_id, {PG_MINUTE.format("m.captured_at")}
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES (o.media_id, o.deployment_id, o.event_start),
                                   (n.media_id, n.deployment_id, n.event_start))
             AS side(media_id, deployment_id, event_start)
        JOIN media m ON m.id = side.media_id
        WHERE (o.observation_type = 'animal' OR n.observation_type = 'animal')
          AND ({", ".join(f"o.{c}" for c in OBSERVATION_COLUMNS)})
              IS DISTINCT FROM ({", ".join(f"n.{c}" for c in OBSERVATION_COLUMNS)})
          AND m.deployment_id IS NOT NULL
        UNION
        SELECT DISTINCT n.project_id, side.deployment_id, {PG_MINUTE.format("side.event_start")}
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES (o.media_id, o.deployment_id, o.event_start),
                                   (n.media_id, n.deployment_id, n.event_start))
             AS side(media_id, deployment_id, event_start)
        WHERE (o.observation_type = 'animal' OR n.observation_type = 'animal')
          AND ({", ".join(f"o.{c}" for c in OBSERVATION_COLUMNS)})
              IS DISTINCT FROM ({", ".join(f"n.{c}" for c in OBSERVATION_COLUMNS)})
          AND side.media_id IS NULL AND side.deployment_id IS NOT NULL
          AND side.event_start IS NOT NULL;
    """,
    # Media: their own minute (the detection rate counts every medium).
    "wl_summary_media_changed": f"""
        INSERT INTO summary_changes (project_id, deployment_id, minute)
        SELECT DISTINCT r.project_id, r.deployment_id, {PG_MINUTE.format("r.captured_at")}
        FROM changed_rows r WHERE r.deployment_id IS NOT NULL;
    """,
    "wl_summary_media_updated": f"""
        INSERT INTO summary_changes (project_id, deployment_id, minute)
        SELECT DISTINCT side.project_id, side.deployment_id,
               {PG_MINUTE.format("side.captured_at")}
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES (o.project_id, o.deployment_id, o.captured_at),
                                   (n.project_id, n.deployment_id, n.captured_at))
             AS side(project_id, deployment_id, captured_at)
        WHERE (o.captured_at, o.deployment_id) IS DISTINCT FROM (n.captured_at, n.deployment_id)
          AND side.deployment_id IS NOT NULL;
    """,
    # A deployment's location or clock offset, a taxon's name: copied into the detection
    # minutes, so every minute holding them is noted.
    "wl_summary_deployments_updated": """
        INSERT INTO summary_changes (project_id, deployment_id, minute)
        SELECT DISTINCT d.project_id, d.deployment_id, d.minute
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        JOIN detection_minutes d ON d.project_id = n.project_id AND d.deployment_id = n.id
        WHERE (o.location_id, o.utc_offset) IS DISTINCT FROM (n.location_id, n.utc_offset);
    """,
    "wl_summary_taxa_updated": """
        INSERT INTO summary_changes (project_id, deployment_id, minute)
        SELECT DISTINCT d.project_id, d.deployment_id, d.minute
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        JOIN detection_minutes d ON d.taxon_id = n.id
        WHERE o.scientific_name IS DISTINCT FROM n.scientific_name;
    """,
}
PG_TRIGGERS = [
    # (trigger, table, event, transition tables, function)
    (
        "wl_summary_observations_inserted",
        "observations",
        "INSERT",
        "NEW TABLE AS changed_rows",
        "wl_summary_observations_changed",
    ),
    (
        "wl_summary_observations_deleted",
        "observations",
        "DELETE",
        "OLD TABLE AS changed_rows",
        "wl_summary_observations_changed",
    ),
    (
        "wl_summary_observations_updated",
        "observations",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "wl_summary_observations_updated",
    ),
    (
        "wl_summary_media_inserted",
        "media",
        "INSERT",
        "NEW TABLE AS changed_rows",
        "wl_summary_media_changed",
    ),
    (
        "wl_summary_media_deleted",
        "media",
        "DELETE",
        "OLD TABLE AS changed_rows",
        "wl_summary_media_changed",
    ),
    (
        "wl_summary_media_updated",
        "media",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "wl_summary_media_updated",
    ),
    (
        "wl_summary_deployments_updated",
        "deployments",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "wl_summary_deployments_updated",
    ),
    (
        "wl_summary_taxa_updated",
        "taxa",
        "UPDATE",
        "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "wl_summary_taxa_updated",
    ),
]


def _sqlite_observation_marks(row: str) -> str:
    return f"""
        INSERT INTO summary_changes (project_id, deployment_id, minute)
        SELECT m.project_id, m.deployment_id, {SQLITE_MINUTE.format("m.captured_at")}
        FROM media m WHERE m.id = {row}.media_id AND m.deployment_id IS NOT NULL;
        INSERT INTO summary_changes (project_id, deployment_id, minute)
        SELECT {row}.project_id, {row}.deployment_id, {SQLITE_MINUTE.format(f"{row}.event_start")}
        WHERE {row}.media_id IS NULL AND {row}.deployment_id IS NOT NULL
          AND {row}.event_start IS NOT NULL;
    """


def _sqlite_media_marks(row: str) -> str:
    return f"""
        INSERT INTO summary_changes (project_id, deployment_id, minute)
        SELECT {row}.project_id, {row}.deployment_id, {SQLITE_MINUTE.format(f"{row}.captured_at")}
        WHERE {row}.deployment_id IS NOT NULL;
    """


_OBSERVATION_CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in OBSERVATION_COLUMNS)
SQLITE_TRIGGERS = {
    "wl_summary_observations_inserted": (
        "AFTER INSERT ON observations WHEN NEW.observation_type = 'animal'",
        _sqlite_observation_marks("NEW"),
    ),
    "wl_summary_observations_deleted": (
        "AFTER DELETE ON observations WHEN OLD.observation_type = 'animal'",
        _sqlite_observation_marks("OLD"),
    ),
    "wl_summary_observations_updated": (
        "AFTER UPDATE ON observations WHEN (OLD.observation_type = 'animal' "
        f"OR NEW.observation_type = 'animal') AND ({_OBSERVATION_CHANGED})",
        _sqlite_observation_marks("OLD") + _sqlite_observation_marks("NEW"),
    ),
    "wl_summary_media_inserted": ("AFTER INSERT ON media", _sqlite_media_marks("NEW")),
    "wl_summary_media_deleted": ("AFTER DELETE ON media", _sqlite_media_marks("OLD")),
    "wl_summary_media_updated": (
        "AFTER UPDATE ON media WHEN OLD.captured_at IS NOT NEW.captured_at "
        "OR OLD.deployment_id IS NOT NEW.deployment_id",
        _sqlite_media_marks("OLD") + _sqlite_media_marks("NEW"),
    ),
    "wl_summary_deployments_updated": (
        "AFTER UPDATE ON deployments WHEN OLD.location_id IS NOT NEW.location_id "
        "OR OLD.utc_offset IS NOT NEW.utc_offset",
        "INSERT INTO summary_changes (project_id, deployment_id, minute) "
        "SELECT DISTINCT project_id, deployment_id, minute FROM detection_minutes "
        "WHERE project_id = NEW.project_id AND deployment_id = NEW.id;",
    ),
    "wl_summary_taxa_updated": (
        "AFTER UPDATE ON taxa WHEN OLD.scientific_name IS NOT NEW.scientific_name",
        "INSERT INTO summary_changes (project_id, deployment_id, minute) "
        "SELECT DISTINCT project_id, deployment_id, minute FROM detection_minutes "
        "WHERE taxon_id = NEW.id;",
    ),
}


def _create_tables() -> None:
    op.create_table(
        "detection_minutes",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("deployment_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("utc_offset_s", sa.Integer(), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("taxon_id", sa.Uuid(), nullable=True),
        sa.Column("taxon", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("individuals", sa.Integer(), nullable=False),
        sa.Column("first_epoch", sa.BigInteger(), nullable=False),
        sa.Column("last_epoch", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection_minutes")),
    )
    op.create_index(
        "ix_detection_minutes_bucket",
        "detection_minutes",
        ["project_id", "deployment_id", "minute"],
    )
    op.create_index(
        "ix_detection_minutes_series",
        "detection_minutes",
        ["project_id", "location_id", "taxon", "minute", "first_epoch"],
        postgresql_include=[
            "last_epoch",
            "utc_offset_s",
            "records",
            "individuals",
            "verified",
            "deployment_id",
            "taxon_id",
        ],
    )
    op.create_table(
        "media_minutes",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("deployment_id", sa.Uuid(), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=True),
        sa.Column("media", sa.Integer(), nullable=False),
        sa.Column("with_animal", sa.Integer(), nullable=False),
        sa.Column("with_verified_animal", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_media_minutes")),
    )
    op.create_index(
        "ix_media_minutes_bucket", "media_minutes", ["project_id", "deployment_id", "minute"]
    )
    op.create_table(
        "summary_changes",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("deployment_id", sa.Uuid(), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_summary_changes")),
    )
    op.create_index("ix_summary_changes_project", "summary_changes", ["project_id"])


def upgrade() -> None:
    _create_tables()
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        # Statistics read the minutes from the index alone where the visibility map says
        # so; it stays current when autovacuum visits after a few per cent of changes.
        for table in ("detection_minutes", "media_minutes"):
            op.execute(
                f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0.02, "
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
        minute = PG_MINUTE
    else:
        for trigger, (when, body) in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {trigger} {when} BEGIN {body} END")
        minute = SQLITE_MINUTE
    # What is already there is summarised by the first refresh.
    op.execute(
        "INSERT INTO summary_changes (project_id, deployment_id, minute) "
        f"SELECT DISTINCT project_id, deployment_id, {minute.format('captured_at')} "
        "FROM media WHERE deployment_id IS NOT NULL"
    )
    op.execute(
        "INSERT INTO summary_changes (project_id, deployment_id, minute) "
        f"SELECT DISTINCT project_id, deployment_id, {minute.format('event_start')} "
        "FROM observations WHERE media_id IS NULL AND deployment_id IS NOT NULL "
        "AND event_start IS NOT NULL"
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
    for table in ("summary_changes", "media_minutes", "detection_minutes"):
        op.drop_table(table)
