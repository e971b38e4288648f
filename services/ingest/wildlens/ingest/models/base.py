"""The ingest service's table base and metadata; every table model module registers here."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from wildlens.common.db import new_metadata

metadata = new_metadata()


class IngestTable(SQLModel, registry=registry(metadata=metadata)):
    """Base of the ingest service's tables."""


__all__ = ["IngestTable", "metadata"]
