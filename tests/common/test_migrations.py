"""Each service's Alembic history builds exactly the tables its models describe."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from tests.conftest import PG_URL
from wildlens.common.db import create_database
from wildlens.common.db.migrations import current_revision, upgrade
from wildlens.common.service import discover_services
from wildlens.common.service.platform import attach_tables
from wildlens.common.settings import Settings

SERVICES = [s.name for s in discover_services() if s.metadata is not None]


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path)
    prefix = request.getfixturevalue("pg_schema_prefix")
    return Settings(data_dir=tmp_path, database_url=PG_URL, database={"schema_prefix": prefix})


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_match_models(service: str, settings: Settings) -> None:
    (spec,) = discover_services([service])
    attach_tables(spec)
    assert spec.metadata is not None
    assert spec.migrations is not None
    db = create_database(settings, service)
    try:
        await upgrade(db, Path(spec.migrations))
        await upgrade(db, Path(spec.migrations))  # a second run is harmless
        assert await current_revision(db) != ()

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, spec.metadata))  # type: ignore[arg-type]

        async with db.engine.connect() as conn:
            differences = await conn.run_sync(diff)
        assert differences == [], f"models and migrations of {service} differ: run make migration"
    finally:
        await db.dispose()
