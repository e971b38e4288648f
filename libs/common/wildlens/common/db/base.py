"""Table bases: every service has its own ``MetaData`` so that one process can hold several
services' tables (embedded mode) without them touching each other."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import registry
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

__all__ = ["NAMING_CONVENTION", "UtcDateTime", "model_base", "utcnow"]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC on the way out, whatever the backend.

    SQLite has no timezone type, so values are normalised to UTC on the way in and tagged
    as UTC on the way out; naive datetimes are refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a timezone-aware one is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def model_base(service: str) -> tuple[type[SQLModel], MetaData]:
    """A SQLModel base class with a metadata of its own, for one service's tables.

    Args:
        service: the service name, used only to make the base class's name readable.
    """
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    reg = registry(metadata=metadata)
    namespace: dict[str, Any] = {"__module__": __name__}
    base = type(f"{service.capitalize()}Table", (SQLModel,), namespace, registry=reg)
    return base, metadata
