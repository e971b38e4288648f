"""The training service's table base and metadata."""

from wildlens.common.db import model_base

TrainingTable, metadata = model_base("training")

__all__ = ["TrainingTable", "metadata"]
