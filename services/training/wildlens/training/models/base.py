"""The training service's table base and metadata; every table model module registers here."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from wildlens.common.db import new_metadata

metadata = new_metadata()


class TrainingTable(SQLModel, registry=registry(metadata=metadata)):
    """Base of the training service's tables."""


__all__ = ["TrainingTable", "metadata"]
