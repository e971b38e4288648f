"""Engines and sessions for ``sqlite+aiosqlite`` and ``postgresql+asyncpg``.

One session per request or per consumed batch: :meth:`Database.transaction` commits when the
block succeeds and rolls back when it raises; code inside only flushes. With PostgreSQL each
service keeps its tables in its own schema, selected through the connection's search path so
that table definitions and migrations stay schema-agnostic. A database that cannot be reached
raises :class:`~wildlens.common.errors.Unavailable` out of a transaction, whatever the driver
said (``failures``), so that callers retry instead of failing for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db.failures import database_unreachable
from wildlens.common.errors import Unavailable
from wildlens.common.settings import Settings

__all__ = ["Database", "create_database"]

AfterCommit = Callable[[], None]
_BURST_CONNECTIONS = 5
_RECYCLE_S = 240


class Database:
    """One service's database: its engine, its schema, and its sessions."""

    def __init__(self, engine: AsyncEngine, *, schema: str | None) -> None:
        self.engine = engine
        self.schema = schema
        self.sessionmaker = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        self._after_commit: list[AfterCommit] = []

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def on_commit(self, callback: AfterCommit) -> None:
        """Call ``callback`` after every commit of a session that staged outbox messages."""
        self._after_commit.append(callback)

    async def create_schema(self) -> None:
        if self.schema is None:
            return
        async with self.engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session in one transaction: committed when the block ends, rolled back when it
        raises.

        Raises:
            Unavailable: the database could not be reached (at the start, inside the block or
                at the commit); whatever the block wrote is not committed.
        """
        try:
            async with self.sessionmaker() as session:
                try:
                    yield session
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
                if session.info.pop("outbox_staged", False):
                    for callback in self._after_commit:
                        callback()
        except Unavailable:
            raise
        except Exception as exc:
            if database_unreachable(exc):
                raise Unavailable(f"the database does not answer: {type(exc).__name__}") from exc
            raise

    async def ping(self, *, timeout: float = 5.0) -> None:
        # Bounded: a database behind a dead link would otherwise hold readiness for the
        # driver's connect timeout (a minute), longer than any probe waits.
        try:
            async with asyncio.timeout(timeout), self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError, OSError, TimeoutError) as exc:
            raise Unavailable(f"database does not answer: {type(exc).__name__}") from exc

    async def dispose(self) -> None:
        await self.engine.dispose()


def _with_password(url: URL, settings: Settings) -> URL:
    password = settings.database.password
    if password is not None and url.password is None:
        return url.set(password=password.get_secret_value())
    return url


def create_database(settings: Settings, service: str) -> Database:
    """The database a service uses, as configured: its own SQLite file or its own schema."""
    url = _with_password(make_url(settings.database_url_for(service)), settings)
    schema = settings.schema_for(service)
    kwargs: dict[str, Any] = {"echo": settings.database.echo}
    if url.get_backend_name() == "sqlite":
        # One writer at a time is SQLite's rule; wait for the lock instead of failing at once.
        kwargs["connect_args"] = {"timeout": 30}
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return Database(engine, schema=None)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"unsupported database URL scheme {url.drivername!r}")
    kwargs["pool_size"] = settings.database.pool_size
    # Connections past the pool's size are opened for one transaction and closed after it:
    # under steady concurrent requests that is a connection (and a server process) per
    # transaction, so the pool keeps most of what it may open, and bursts add only a few.
    kwargs["max_overflow"] = _BURST_CONNECTIONS
    # Without a ping before each use, a connection something on the way dropped silently (a
    # load balancer's or NAT's idle timeout, commonly five minutes or more) would fail its
    # first statement: connections are replaced before they are that old instead.
    kwargs["pool_recycle"] = _RECYCLE_S
    if schema is not None:
        kwargs["connect_args"] = {"server_settings": {"search_path": schema}}
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "checkout", _refuse_closed)
    return Database(engine, schema=schema)


def _refuse_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Replace a pooled connection that was closed while it waited, before it is handed out.

    SQLAlchemy's ``pool_pre_ping`` would ask the server instead: with asyncpg that is a
    transaction begun, a query and a rollback, three round trips before every transaction.
    A restart, failover or reset closes the socket, which the driver has seen by the time the
    connection is taken; a connection that dies unseen fails its first statement, which is
    ``Unavailable`` like any outage met inside a transaction.
    """
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the connection was closed while it was in the pool")
