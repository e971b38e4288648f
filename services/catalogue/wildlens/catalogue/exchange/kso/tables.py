"""Which of KSO's tables a file is, told by its name."""

from __future__ import annotations

from pathlib import PurePosixPath

from wildlens.catalogue.exchange.kso.importer import KSO_FILES
from wildlens.common.errors import Invalid

__all__ = ["kso_table"]


def kso_table(filename: str) -> str:
    """sites, movies or species: the first of them the file's name holds."""
    name = PurePosixPath(filename.replace("\\", "/")).name
    kind = next((k for k in KSO_FILES if k in name.lower()), None)
    if kind is None:
        raise Invalid(
            f"cannot tell which KSO table {name!r} is: name it after sites, movies or species"
        )
    return kind
