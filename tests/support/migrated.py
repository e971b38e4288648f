"""Every service's schema migrated once per run, copied into each test's own databases.

Replaying the migrations of every service takes a second or so; most tests start a platform on
fresh databases, several hundred times a run. The copy is made by the same migrations in the
same run, and each platform still runs them at start (finding its databases at head), so a test
meets exactly the schema a fresh platform makes.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import asyncpg

from wildlens.common.db import create_database
from wildlens.common.db.migrations import upgrade
from wildlens.common.service import discover_services
from wildlens.common.settings import Settings

__all__ = ["EmbeddedTemplate", "PostgresTemplate"]


async def _migrate_all(settings: Settings) -> None:
    for spec in discover_services():
        if spec.metadata is None or spec.migrations is None:
            continue
        db = create_database(settings, spec.name)
        try:
            await upgrade(db, Path(spec.migrations))
        finally:
            # Closing the last connection folds SQLite's write-ahead log into the file.
            await db.dispose()


def _db_folder(settings: Settings) -> Path:
    return settings.data_dir / "db"


class EmbeddedTemplate:
    """The embedded backends' databases (one SQLite file per service), migrated once."""

    def __init__(self, settings: Settings) -> None:
        self._folder = _db_folder(settings)
        asyncio.run(_migrate_all(settings))

    def copy_into(self, settings: Settings) -> None:
        """Give ``settings`` the migrated databases, unless it has databases already (a
        platform started before on the same folder) or keeps them elsewhere."""
        if settings.database_url is not None:
            return
        target = _db_folder(settings)
        if target.exists() and any(target.iterdir()):
            return
        target.mkdir(parents=True, exist_ok=True)
        for path in self._folder.glob("*.sqlite"):
            shutil.copyfile(path, target / path.name)


def _services_with_schemas() -> list[str]:
    return [s.name for s in discover_services() if s.metadata is not None and s.migrations]


class PostgresTemplate:
    """The real backend's schemas (one per service), migrated once under a prefix of their own
    and dumped; each test's schemas are made from the dump under the test's prefix.

    Where ``pg_dump`` is missing or cannot read the server (a newer major version), there is
    no dump and each platform migrates its own schemas at start, as it would anyway.
    """

    def __init__(self, settings: Settings, connect: dict[str, object]) -> None:
        self._connect = connect
        self._prefix = settings.database.schema_prefix
        asyncio.run(_migrate_all(settings))
        self._dumps: list[str] | None = [self._dump(s) for s in _services_with_schemas()]
        if any(not d for d in self._dumps):
            self._dumps = None

    def _dump(self, service: str) -> str:
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            return ""
        done = subprocess.run(
            [
                pg_dump,
                f"--host={self._connect['host']}",
                f"--port={self._connect['port']}",
                f"--username={self._connect['user']}",
                f"--dbname={self._connect['database']}",
                f"--schema={self._prefix}{service}",
                # Statements asyncpg can run: no COPY from standard input, no owners.
                "--inserts",
                "--no-owner",
                "--no-privileges",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            return ""
        # psql's own commands (\restrict in newer versions) are not SQL.
        return "\n".join(line for line in done.stdout.splitlines() if not line.startswith("\\"))

    def copy_into(self, schema_prefix: str) -> None:
        """Make the test's schemas (``schema_prefix`` + service) from the dump, if there is one."""
        if self._dumps is None:
            return
        scripts = [d.replace(self._prefix, schema_prefix) for d in self._dumps]

        async def restore() -> None:
            conn = await asyncpg.connect(**self._connect)
            try:
                for script in scripts:
                    await conn.execute(script)
            finally:
                await conn.close()

        asyncio.run(restore())

    def drop(self) -> None:
        """Remove the template's own schemas."""

        async def drop() -> None:
            conn = await asyncpg.connect(**self._connect)
            try:
                for service in _services_with_schemas():
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{self._prefix}{service}" CASCADE')
            finally:
                await conn.close()

        asyncio.run(drop())
