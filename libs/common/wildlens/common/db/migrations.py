"""Alembic, one history per service, run programmatically on the service's own connection.

A service's ``migrations/env.py`` is one call to :func:`run_env` with its metadata; its
revisions live in ``migrations/versions``. The connection's search path already points at the
service's schema (PostgreSQL), so ``alembic_version`` lands there too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from wildlens.common.db.engine import Database

__all__ = ["current_revision", "revision", "run_env", "upgrade"]


def _config(script_location: Path, connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["connection"] = connection
    return config


def run_env(metadata: MetaData) -> None:
    """Body of every service's ``env.py``: migrate on the connection handed over by
    :func:`upgrade` or :func:`revision`."""
    connection: Connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def upgrade(db: Database, script_location: Path, target: str = "heads") -> None:
    """Bring the service's schema to ``target`` (creating the schema first).

    ``heads`` rather than ``head``: branches developed side by side apply until a merge
    revision joins them.
    """
    await db.create_schema()

    def _run(connection: Connection) -> None:
        command.upgrade(_config(script_location, connection), target)

    async with db.engine.begin() as conn:
        await conn.run_sync(_run)


async def current_revision(db: Database) -> tuple[str, ...]:
    """The revisions the database is at (one per unmerged branch)."""
    from alembic.runtime.migration import MigrationContext

    def _read(connection: Connection) -> tuple[str, ...]:
        return tuple(MigrationContext.configure(connection).get_current_heads())

    async with db.engine.connect() as conn:
        return await conn.run_sync(_read)


async def revision(db: Database, script_location: Path, message: str, **kwargs: Any) -> None:
    """Autogenerate a revision from the difference between the models and the database."""
    await upgrade(db, script_location)

    def _run(connection: Connection) -> None:
        command.revision(
            _config(script_location, connection), message=message, autogenerate=True, **kwargs
        )

    async with db.engine.begin() as conn:
        await conn.run_sync(_run)
