"""Telling a database that does not answer from a statement that failed.

A restarted, failed-over or unreachable PostgreSQL shows itself in several ways: a refused or
reset connection, a connection SQLAlchemy invalidated in the middle of a statement, or the
server's own "shutting down" and "starting up" errors (SQLSTATE classes 08 and 57P). None of
them is the request's or the message's fault, and all of them pass once the server is back:
they become :class:`~wildlens.common.errors.Unavailable` (503 with ``Retry-After`` for a
request; a message held and tried again by the bus) instead of an internal error.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

__all__ = ["database_unreachable"]

# Connection exceptions (08...) and operator intervention: admin shutdown, crash shutdown,
# cannot connect now (57P01-57P03).
_SQLSTATE_PREFIXES = ("08", "57P")
# What asyncpg says when its connection went away underneath a statement.
_CLOSED_MESSAGES = ("connection is closed", "connection was closed", "underlying connection")


def _sqlstate(exc: BaseException) -> str:
    return str(getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None) or "")


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the database could not be reached, rather than
    that a statement was wrong."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, ConnectionError | PoolTimeout):
            return True
        if _sqlstate(current).startswith(_SQLSTATE_PREFIXES):
            return True
        if isinstance(current, DBAPIError) and any(
            text in str(current.orig) for text in _CLOSED_MESSAGES
        ):
            return True
        # SQLAlchemy keeps the driver's error as ``orig``, which the driver adapter raised
        # from asyncpg's own.
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return False
