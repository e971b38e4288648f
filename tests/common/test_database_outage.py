"""A database that goes away (restarted, failed over, unreachable) is ``Unavailable`` to its
callers, not an internal error, and is used again once it is back, by the same engine.

PostgreSQL is shared with other tests, so it is never restarted: the engine reaches it through
a TCP proxy, and the test resets every connection and refuses new ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError

from tests.support.tcp_proxy import TcpProxy
from wildlens.common.db import Database, create_database
from wildlens.common.errors import Unavailable
from wildlens.common.settings import Settings


@pytest.fixture
def proxy(pg_schema_prefix: str) -> Iterator[TcpProxy]:
    proxy = TcpProxy("127.0.0.1", 5432).start()
    try:
        yield proxy
    finally:
        proxy.close()


def _settings(proxy: TcpProxy, prefix: str, tmp_path: Path) -> Settings:
    return Settings(
        mode="distributed",
        data_dir=tmp_path,
        database_url=f"postgresql+asyncpg://postgres@{proxy.address}/test",
        broker_url="amqp://127.0.0.1:5672/",
        storage_url="s3://127.0.0.1:9/unused",
        database={"schema_prefix": prefix},
    )


async def _write_across_a_cut(database: Database, proxy: TcpProxy) -> None:
    async with database.transaction() as session:
        connection = await session.connection()
        await connection.execute(text("INSERT INTO kept VALUES (1)"))
        proxy.cut()
        await connection.execute(text("INSERT INTO kept VALUES (2)"))


async def _count(database: Database, table: str = "kept") -> int:
    async with database.transaction() as session:
        connection = await session.connection()
        return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_a_database_that_goes_away_is_unavailable_then_used_again(
    proxy: TcpProxy, pg_schema_prefix: str, tmp_path: Path
) -> None:
    database = create_database(_settings(proxy, pg_schema_prefix, tmp_path), "outage")
    try:
        await database.create_schema()
        async with database.transaction() as session:
            await (await session.connection()).execute(text("CREATE TABLE kept (n int)"))

        # Cut in the middle of a transaction: the statement after the cut fails, and what
        # the transaction wrote is not kept.
        with pytest.raises(Unavailable) as caught:
            await _write_across_a_cut(database, proxy)
        assert caught.value.status_code == 503
        assert caught.value.headers["Retry-After"].isdigit()

        # While it is away: new connections are refused, which is Unavailable too.
        with pytest.raises(Unavailable):
            await _count(database)
        with pytest.raises(Unavailable):
            await database.ping()

        # Back: the same engine works again, with nothing of the cut transaction.
        proxy.restore()
        await database.ping()
        assert await _count(database) == 0
    finally:
        await database.dispose()


async def test_a_failing_statement_is_not_taken_for_an_outage(
    proxy: TcpProxy, pg_schema_prefix: str, tmp_path: Path
) -> None:
    database = create_database(_settings(proxy, pg_schema_prefix, tmp_path), "outage")
    try:
        await database.create_schema()
        # The driver's own error, as before: a retry would fail the same way.
        with pytest.raises(ProgrammingError, match="no_such_table"):
            await _count(database, "no_such_table")
    finally:
        await database.dispose()


async def test_a_pooled_connection_reset_while_idle_is_replaced_unseen(
    proxy: TcpProxy, pg_schema_prefix: str, tmp_path: Path
) -> None:
    """A restart between two requests costs neither of them an error: the connection the
    first one left in the pool is replaced when the second takes it."""
    database = create_database(_settings(proxy, pg_schema_prefix, tmp_path), "outage")
    try:
        await database.create_schema()
        async with database.transaction() as session:
            await (await session.connection()).execute(text("CREATE TABLE kept (n int)"))
        proxy.cut()
        proxy.restore()
        # The reset reaches the idle connection as it would between two requests.
        await asyncio.sleep(0.2)
        assert await _count(database) == 0
    finally:
        await database.dispose()
