"""The citsci service's table base and metadata."""

from wildlens.common.db import model_base

CitsciTable, metadata = model_base("citsci")

__all__ = ["CitsciTable", "metadata"]
