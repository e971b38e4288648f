"""The ingest service's table base and metadata."""

from wildlens.common.db import model_base

IngestTable, metadata = model_base("ingest")

__all__ = ["IngestTable", "metadata"]
