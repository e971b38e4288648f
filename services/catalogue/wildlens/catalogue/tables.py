"""The catalogue's table base and metadata; every table model module registers here."""

from wildlens.common.db import model_base

CatalogueTable, metadata = model_base("catalogue")

__all__ = ["CatalogueTable", "metadata"]
