"""statistics: detection records kept current through triggers, instead of detection minutes

Revision ID: 0013_detection_records
Revises: 0012_export_audience
Create Date: 2026-12-05 09:00:00.000000

The statistics count one record per sequence and taxon (the event-level count where the
sequence has one, else the most in any one medium), which per-minute sums cannot give; they
read ``detection_records`` instead, one row per record. Every change that can change a record
notes its sequence in ``detection_record_changes``, in the same transaction, from a trigger:
an observation added, corrected, verified, discarded or deleted (a person's label also notes
the sequences of the machine labels it outranks on its medium); a medium deleted, re-timed,
moved to another deployment or to another event; an event deleted or given another eventID;
a deployment's location or clock offset corrected, a taxon renamed (records carry both, so
that a statistic reads them from one index). Sequences are named as ``records._sequence``
names them: "event:" and an imported eventID, "catalogue:" and the catalogue's event,
"media:" and a medium in no event, "observation:" and an event-level observation without an
eventID.

``detection_minutes``, which nothing reads any more, goes, with the triggers that kept it.
The media minutes are now also noted for a person's label that is not an animal (a blank
says the machine's animal was none): the media those could have left stale are noted once.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0013_detection_records"
down_revision: str | None = "0012_export_audience"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
IMPORTED_OBSERVATIONS = sa.text("event_external_id IS NOT NULL")
IMPORTED_EVENTS = sa.text("external_id IS NOT NULL")
FIRST_RECORDS = sa.text("previous_epoch IS NULL")

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
    "event_external_id",
)
# A medium's: its minute, and where its observations' records are.
MEDIA_COLUMNS = ("captured_at", "deployment_id", "event_id")

PG_MINUTE = "floor(extract(epoch FROM {0}) / 60)::bigint"
SQLITE_MINUTE = "CAST(strftime('%s', {0}) AS INTEGER) / 60"


class Keys:
    """Sequence keys in one dialect's SQL (PostgreSQL writes a uuid as text with ``::text``;
    SQLite stores it as text already)."""

    def __init__(self, postgresql: bool) -> None:
        self.postgresql = postgresql

    def text(self, column: str) -> str:
        return f"{column}::text" if self.postgresql else column

    def chain(self, event_id: str, media_id: str, external_id: str) -> str:
        """A medium's sequence: its event's eventID, else its event, else itself."""
        return (
            f"coalesce('event:' || nullif({external_id}, ''), "
            f"'catalogue:' || {self.text(event_id)}, 'media:' || {self.text(media_id)})"
        )

    def event(self, row: str) -> str:
        """The sequence an event (a row of ``events``) is."""
        own_id = self.text(f"{row}.id")
        return f"coalesce('event:' || nullif({row}.external_id, ''), 'catalogue:' || {own_id})"

    def own(self, row: str, chain: str) -> str:
        """An observation's sequence: its own eventID, else (event-level) itself, else its
        medium's (``chain``, None where the medium is gone: its deletion notes it)."""
        return (
            f"CASE WHEN coalesce({row}.event_external_id, '') <> '' "
            f"THEN 'event:' || {row}.event_external_id "
            f"WHEN {row}.media_id IS NULL THEN 'observation:' || {self.text(row + '.id')} "
            f"ELSE {chain} END"
        )


def _distinct(columns: tuple[str, ...], old: str, new: str) -> str:
    return (
        f"({', '.join(f'{old}.{c}' for c in columns)}) "
        f"IS DISTINCT FROM ({', '.join(f'{new}.{c}' for c in columns)})"
    )


# --- PostgreSQL: statement-level triggers over transition tables ---------------------------

PG = Keys(postgresql=True)
PG_CHAIN = PG.chain("m.event_id", "m.id", "e.external_id")
PG_HUMAN_MEDIA = "SELECT media_id FROM sides WHERE classification_method = 'human'"


def _pg_observation_notes(sides: str) -> str:
    """Notes for the observation rows ``sides`` (a CTE): the minutes of their media (animals,
    and a person's labels of anything, which outrank the machine's animals) and the sequences
    of their records, and of the records their medium's machine labels make."""
    return f"""
        WITH {sides}
        INSERT INTO summary_changes (project_id, deployment_id, minute)
        SELECT DISTINCT m.project_id, m.deployment_id, {PG_MINUTE.format("m.captured_at")}
        FROM sides r JOIN media m ON m.id = r.media_id
        WHERE (r.observation_type = 'animal' OR r.classification_method = 'human')
          AND m.deployment_id IS NOT NULL;
        WITH {sides}
        INSERT INTO detection_record_changes (project_id, sequence)
        SELECT DISTINCT project_id, sequence FROM (
            SELECT r.project_id, {PG.own("r", PG_CHAIN)} AS sequence
            FROM sides r
            LEFT JOIN media m ON m.id = r.media_id
            LEFT JOIN events e ON e.id = m.event_id
            WHERE r.observation_type = 'animal'
            UNION ALL
            SELECT m.project_id, {PG_CHAIN}
            FROM media m LEFT JOIN events e ON e.id = m.event_id
            WHERE m.id IN ({PG_HUMAN_MEDIA})
            UNION ALL
            SELECT x.project_id, 'event:' || x.event_external_id
            FROM observations x
            WHERE x.media_id IN ({PG_HUMAN_MEDIA}) AND coalesce(x.event_external_id, '') <> ''
        ) noted
        WHERE sequence IS NOT NULL;
    """


PG_MEDIA_MINUTES = f"""
    INSERT INTO summary_changes (project_id, deployment_id, minute)
    SELECT DISTINCT r.project_id, r.deployment_id, {PG_MINUTE.format("r.captured_at")}
    FROM changed_rows r WHERE r.deployment_id IS NOT NULL;
"""
PG_CHANGED_OBSERVATIONS = f"""
    changed AS (
        SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id
        WHERE {_distinct(OBSERVATION_COLUMNS, "o", "n")}
    ),
    sides AS (
        SELECT o.* FROM old_rows o JOIN changed USING (id)
        UNION ALL
        SELECT n.* FROM new_rows n JOIN changed USING (id)
    )
"""
# Functions run with the schema they were made in, whoever's connection fires them.
PG_FUNCTIONS = {
    "wl_summary_observations_changed": _pg_observation_notes(
        "sides AS (SELECT * FROM changed_rows)"
    ),
    "wl_summary_observations_updated": _pg_observation_notes(PG_CHANGED_OBSERVATIONS),
    # A new medium has no observations yet: its minute alone.
    "wl_summary_media_inserted": PG_MEDIA_MINUTES,
    # A deleted medium's observations go with it; those without an eventID of their own
    # cannot find their medium's sequence any more, so the medium notes it.
    "wl_summary_media_deleted": PG_MEDIA_MINUTES
    + f"""
        INSERT INTO detection_record_changes (project_id, sequence)
        SELECT DISTINCT r.project_id, {PG.chain("r.event_id", "r.id", "e.external_id")}
        FROM changed_rows r LEFT JOIN events e ON e.id = r.event_id;
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
        WITH changed AS (
            SELECT n.id FROM old_rows o JOIN new_rows n ON n.id = o.id
            WHERE {_distinct(MEDIA_COLUMNS, "o", "n")}
              AND EXISTS (SELECT 1 FROM observations x
                          WHERE x.media_id = n.id AND x.observation_type = 'animal')
        ),
        sides AS (
            SELECT o.* FROM old_rows o JOIN changed USING (id)
            UNION ALL
            SELECT n.* FROM new_rows n JOIN changed USING (id)
        )
        INSERT INTO detection_record_changes (project_id, sequence)
        SELECT DISTINCT project_id, sequence FROM (
            SELECT s.project_id, {PG.chain("s.event_id", "s.id", "e.external_id")} AS sequence
            FROM sides s LEFT JOIN events e ON e.id = s.event_id
            UNION ALL
            SELECT x.project_id, 'event:' || x.event_external_id
            FROM observations x JOIN changed c ON x.media_id = c.id
            WHERE coalesce(x.event_external_id, '') <> ''
        ) noted;
    """,
    "wl_summary_events_deleted": f"""
        INSERT INTO detection_record_changes (project_id, sequence)
        SELECT DISTINCT r.project_id, {PG.event("r")} FROM changed_rows r;
    """,
    "wl_summary_events_updated": f"""
        INSERT INTO detection_record_changes (project_id, sequence)
        SELECT DISTINCT side.project_id, {PG.event("side")}
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        CROSS JOIN LATERAL (VALUES (o.project_id, o.id, o.external_id),
                                   (n.project_id, n.id, n.external_id))
             AS side(project_id, id, external_id)
        WHERE o.external_id IS DISTINCT FROM n.external_id;
    """,
    # Records carry their deployment's location and clock offset, and their taxon's name:
    # every sequence with a record of the deployment, or of the old name.
    "wl_summary_deployments_updated": """
        INSERT INTO detection_record_changes (project_id, sequence)
        SELECT DISTINCT d.project_id, d.sequence
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        JOIN detection_records d ON d.project_id = n.project_id AND d.deployment_id = n.id
        WHERE (o.location_id, o.utc_offset) IS DISTINCT FROM (n.location_id, n.utc_offset);
    """,
    "wl_summary_taxa_updated": """
        INSERT INTO detection_record_changes (project_id, sequence)
        SELECT DISTINCT d.project_id, d.sequence
        FROM old_rows o JOIN new_rows n ON n.id = o.id
        JOIN detection_records d ON d.taxon = o.scientific_name
        WHERE o.scientific_name IS DISTINCT FROM n.scientific_name;
    """,
}
OLD_AND_NEW = "OLD TABLE AS old_rows NEW TABLE AS new_rows"
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
        OLD_AND_NEW,
        "wl_summary_observations_updated",
    ),
    (
        "wl_summary_media_inserted",
        "media",
        "INSERT",
        "NEW TABLE AS changed_rows",
        "wl_summary_media_inserted",
    ),
    (
        "wl_summary_media_deleted",
        "media",
        "DELETE",
        "OLD TABLE AS changed_rows",
        "wl_summary_media_deleted",
    ),
    ("wl_summary_media_updated", "media", "UPDATE", OLD_AND_NEW, "wl_summary_media_updated"),
    (
        "wl_summary_events_deleted",
        "events",
        "DELETE",
        "OLD TABLE AS changed_rows",
        "wl_summary_events_deleted",
    ),
    ("wl_summary_events_updated", "events", "UPDATE", OLD_AND_NEW, "wl_summary_events_updated"),
    (
        "wl_summary_deployments_updated",
        "deployments",
        "UPDATE",
        OLD_AND_NEW,
        "wl_summary_deployments_updated",
    ),
    ("wl_summary_taxa_updated", "taxa", "UPDATE", OLD_AND_NEW, "wl_summary_taxa_updated"),
]


# --- SQLite: row-level triggers ------------------------------------------------------------

LITE = Keys(postgresql=False)
LITE_CHAIN = LITE.chain("m.event_id", "m.id", "e.external_id")


def _sqlite_observation_marks(row: str) -> str:
    animal = f"{row}.observation_type = 'animal'"
    human = f"{row}.classification_method = 'human'"
    imported = f"coalesce({row}.event_external_id, '') <> ''"
    return f"""
        INSERT INTO summary_changes (project_id, deployment_id, minute)
        SELECT m.project_id, m.deployment_id, {SQLITE_MINUTE.format("m.captured_at")}
        FROM media m WHERE m.id = {row}.media_id AND m.deployment_id IS NOT NULL
          AND ({animal} OR {human});
        INSERT INTO detection_record_changes (project_id, sequence)
        SELECT {row}.project_id, {LITE.own(row, "NULL")}
        WHERE {animal} AND ({imported} OR {row}.media_id IS NULL);
        INSERT INTO detection_record_changes (project_id, sequence)
        SELECT m.project_id, {LITE_CHAIN}
        FROM media m LEFT JOIN events e ON e.id = m.event_id
        WHERE m.id = {row}.media_id AND (({animal} AND NOT {imported}) OR {human});
        INSERT INTO detection_record_changes (project_id, sequence)
        SELECT DISTINCT x.project_id, 'event:' || x.event_external_id
        FROM observations x
        WHERE {human} AND x.media_id = {row}.media_id
          AND coalesce(x.event_external_id, '') <> '';
    """


def _sqlite_media_minutes(row: str) -> str:
    return f"""
        INSERT INTO summary_changes (project_id, deployment_id, minute)
        SELECT {row}.project_id, {row}.deployment_id, {SQLITE_MINUTE.format(f"{row}.captured_at")}
        WHERE {row}.deployment_id IS NOT NULL;
    """


def _sqlite_media_sequence(row: str, where: str = "1") -> str:
    return f"""
        INSERT INTO detection_record_changes (project_id, sequence)
        SELECT {row}.project_id, {LITE.chain(f"{row}.event_id", f"{row}.id", "e.external_id")}
        FROM (SELECT 1) AS one LEFT JOIN events e ON e.id = {row}.event_id
        WHERE {where};
    """


def _sqlite_event_sequence(row: str) -> str:
    return f"""
        INSERT INTO detection_record_changes (project_id, sequence)
        SELECT {row}.project_id, {LITE.event(row)};
    """


def _changed(columns: tuple[str, ...]) -> str:
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)


def _lite_animal_or_human(row: str) -> str:
    return f"({row}.observation_type = 'animal' OR {row}.classification_method = 'human')"


SQLITE_HAS_ANIMALS = (
    "EXISTS (SELECT 1 FROM observations x WHERE x.media_id = NEW.id "
    "AND x.observation_type = 'animal')"
)
SQLITE_RETIMED = (
    "(OLD.captured_at IS NOT NEW.captured_at OR OLD.deployment_id IS NOT NEW.deployment_id)"
)
SQLITE_TRIGGERS = {
    "wl_summary_observations_inserted": (
        f"AFTER INSERT ON observations WHEN {_lite_animal_or_human('NEW')}",
        _sqlite_observation_marks("NEW"),
    ),
    "wl_summary_observations_deleted": (
        f"AFTER DELETE ON observations WHEN {_lite_animal_or_human('OLD')}",
        _sqlite_observation_marks("OLD"),
    ),
    "wl_summary_observations_updated": (
        f"AFTER UPDATE ON observations WHEN ({_lite_animal_or_human('OLD')} "
        f"OR {_lite_animal_or_human('NEW')}) AND ({_changed(OBSERVATION_COLUMNS)})",
        _sqlite_observation_marks("OLD") + _sqlite_observation_marks("NEW"),
    ),
    "wl_summary_media_inserted": ("AFTER INSERT ON media", _sqlite_media_minutes("NEW")),
    "wl_summary_media_deleted": (
        "AFTER DELETE ON media",
        _sqlite_media_minutes("OLD") + _sqlite_media_sequence("OLD"),
    ),
    "wl_summary_media_updated": (
        f"AFTER UPDATE ON media WHEN {_changed(MEDIA_COLUMNS)}",
        f"""
        INSERT INTO summary_changes (project_id, deployment_id, minute)
        SELECT side.project_id, side.deployment_id, {SQLITE_MINUTE.format("side.captured_at")}
        FROM (SELECT OLD.project_id AS project_id, OLD.deployment_id AS deployment_id,
                     OLD.captured_at AS captured_at
              UNION ALL
              SELECT NEW.project_id, NEW.deployment_id, NEW.captured_at) AS side
        WHERE {SQLITE_RETIMED} AND side.deployment_id IS NOT NULL;
        """
        + _sqlite_media_sequence("OLD", SQLITE_HAS_ANIMALS)
        + _sqlite_media_sequence("NEW", SQLITE_HAS_ANIMALS)
        + """
        INSERT INTO detection_record_changes (project_id, sequence)
        SELECT DISTINCT x.project_id, 'event:' || x.event_external_id
        FROM observations x
        WHERE x.media_id = NEW.id AND coalesce(x.event_external_id, '') <> '';
        """,
    ),
    "wl_summary_events_deleted": ("AFTER DELETE ON events", _sqlite_event_sequence("OLD")),
    "wl_summary_events_updated": (
        "AFTER UPDATE ON events WHEN OLD.external_id IS NOT NEW.external_id",
        _sqlite_event_sequence("OLD") + _sqlite_event_sequence("NEW"),
    ),
    "wl_summary_deployments_updated": (
        "AFTER UPDATE ON deployments WHEN OLD.location_id IS NOT NEW.location_id "
        "OR OLD.utc_offset IS NOT NEW.utc_offset",
        "INSERT INTO detection_record_changes (project_id, sequence) "
        "SELECT DISTINCT project_id, sequence FROM detection_records "
        "WHERE project_id = NEW.project_id AND deployment_id = NEW.id;",
    ),
    "wl_summary_taxa_updated": (
        "AFTER UPDATE ON taxa WHEN OLD.scientific_name IS NOT NEW.scientific_name",
        "INSERT INTO detection_record_changes (project_id, sequence) "
        "SELECT DISTINCT project_id, sequence FROM detection_records "
        "WHERE taxon = OLD.scientific_name;",
    ),
}


# --- the change ----------------------------------------------------------------------------


def _previous() -> ModuleType:
    """Migration 0008, whose triggers this one replaces (and a downgrade puts back)."""
    path = Path(__file__).with_name("0008_statistics_summaries.py")
    spec = importlib.util.spec_from_file_location("wildlens_catalogue_0008_summaries", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _drop_triggers(postgresql: bool, triggers: list[tuple[str, str]], functions: list[str]) -> None:
    for trigger, table in triggers:
        op.execute(
            f"DROP TRIGGER IF EXISTS {trigger} ON {table}"
            if postgresql
            else f"DROP TRIGGER IF EXISTS {trigger}"
        )
    if postgresql:
        for name in functions:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")


def _create_pg_triggers(
    functions: dict[str, str], triggers: list[tuple[str, str, str, str, str]]
) -> None:
    for name, body in functions.items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql "
            f"SET search_path FROM CURRENT AS $$ BEGIN {body} RETURN NULL; END $$"
        )
    for trigger, table, event, transitions, function in triggers:
        op.execute(
            f"CREATE TRIGGER {trigger} AFTER {event} ON {table} "
            f"REFERENCING {transitions} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
        )


def _create_detection_records() -> None:
    op.create_table(
        "detection_records",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("deployment_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=False),
        sa.Column("utc_offset_s", sa.Integer(), nullable=False),
        sa.Column("sequence", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("taxon", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("taxon_id", sa.Uuid(), nullable=True),
        sa.Column("taxon_ids", sa.Integer(), nullable=False),
        sa.Column("unresolved", sa.Boolean(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("first_epoch", sa.BigInteger(), nullable=False),
        sa.Column("last_epoch", sa.BigInteger(), nullable=False),
        sa.Column("previous_epoch", sa.BigInteger(), nullable=True),
        sa.Column("individuals", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection_records")),
    )
    op.create_index(
        "ix_detection_records_sequence", "detection_records", ["project_id", "sequence"]
    )
    op.create_index(
        "ix_detection_records_series",
        "detection_records",
        ["project_id", "verified", "location_id", "taxon", "epoch"],
        postgresql_include=[
            "previous_epoch",
            "individuals",
            "utc_offset_s",
            "deployment_id",
            "first_epoch",
            "last_epoch",
            "taxon_id",
            "taxon_ids",
            "unresolved",
        ],
    )
    op.create_index(
        "ix_detection_records_firsts",
        "detection_records",
        ["project_id", "verified", "taxon", "epoch"],
        postgresql_where=FIRST_RECORDS,
        sqlite_where=FIRST_RECORDS,
    )
    op.create_index("ix_detection_records_taxon", "detection_records", ["taxon"])
    op.create_table(
        "detection_record_changes",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_detection_record_changes")),
    )
    op.create_index(
        "ix_detection_record_changes_project", "detection_record_changes", ["project_id"]
    )


def _create_detection_minutes() -> None:
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


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    previous = _previous()
    _drop_triggers(
        postgresql,
        [(trigger, table) for trigger, table, *_ in previous.PG_TRIGGERS],
        list(previous.PG_FUNCTIONS),
    )
    op.drop_index("ix_detection_minutes_series", table_name="detection_minutes")
    op.drop_index("ix_detection_minutes_bucket", table_name="detection_minutes")
    op.drop_table("detection_minutes")
    _create_detection_records()
    # Not in batch mode: a table SQLite rebuilt would lose its triggers.
    op.create_index(
        "ix_observations_event_external_id",
        "observations",
        ["project_id", "event_external_id"],
        postgresql_where=IMPORTED_OBSERVATIONS,
        sqlite_where=IMPORTED_OBSERVATIONS,
    )
    op.create_index(
        "ix_events_external_id",
        "events",
        ["project_id", "external_id"],
        postgresql_where=IMPORTED_EVENTS,
        sqlite_where=IMPORTED_EVENTS,
    )
    if postgresql:
        # As for the media minutes (0008): statistics read the records from the index where
        # the visibility map says so, current when autovacuum visits after a few per cent.
        op.execute(
            "ALTER TABLE detection_records SET (autovacuum_vacuum_scale_factor = 0.02, "
            "autovacuum_vacuum_insert_scale_factor = 0.02, "
            "autovacuum_analyze_scale_factor = 0.02)"
        )
        _create_pg_triggers(PG_FUNCTIONS, PG_TRIGGERS)
        minute = PG_MINUTE
    else:
        for trigger, (when, body) in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {trigger} {when} BEGIN {body} END")
        minute = SQLITE_MINUTE
    # Every project's records are made by its first refresh.
    op.execute(
        "INSERT INTO detection_record_changes (project_id, sequence) "
        "SELECT DISTINCT project_id, CAST(NULL AS VARCHAR(300)) FROM observations"
    )
    # Media minutes a person's label other than an animal may have left stale.
    op.execute(
        "INSERT INTO summary_changes (project_id, deployment_id, minute) "
        f"SELECT DISTINCT m.project_id, m.deployment_id, {minute.format('m.captured_at')} "
        "FROM media m JOIN observations x ON x.media_id = m.id "
        "WHERE m.deployment_id IS NOT NULL AND x.classification_method = 'human' "
        "AND x.observation_type <> 'animal'"
    )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    previous = _previous()
    _drop_triggers(
        postgresql,
        [(trigger, table) for trigger, table, *_ in PG_TRIGGERS],
        list(PG_FUNCTIONS),
    )
    op.drop_index("ix_events_external_id", table_name="events")
    op.drop_index("ix_observations_event_external_id", table_name="observations")
    op.drop_index("ix_detection_record_changes_project", table_name="detection_record_changes")
    op.drop_table("detection_record_changes")
    for index in (
        "ix_detection_records_taxon",
        "ix_detection_records_firsts",
        "ix_detection_records_series",
        "ix_detection_records_sequence",
    ):
        op.drop_index(index, table_name="detection_records")
    op.drop_table("detection_records")
    _create_detection_minutes()
    if postgresql:
        _create_pg_triggers(previous.PG_FUNCTIONS, previous.PG_TRIGGERS)
        minute = PG_MINUTE
    else:
        for trigger, (when, body) in previous.SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {trigger} {when} BEGIN {body} END")
        minute = SQLITE_MINUTE
    # The detection minutes are made again by the first refresh.
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
