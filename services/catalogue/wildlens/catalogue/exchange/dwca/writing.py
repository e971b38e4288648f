"""Darwin Core text files: tab-separated, unquoted, a header of terms."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["write_table"]


def _clean(value: Any) -> str:
    """A value as a cell of a tab-separated file without quoting: no tabs, no line breaks."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return " ".join(text.replace("\t", " ").splitlines())


def write_table(path: Path, terms: list[str], rows: list[dict[str, Any]]) -> None:
    # Values are written exactly, a name starting with "=" included: a Darwin Core Archive is
    # read by programs (GBIF's IPT and validator, R), which would keep an apostrophe added
    # against spreadsheet formulas as part of the name. The CSV export is the spreadsheet's.
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE)
        writer.writerow(terms)
        for row in rows:
            writer.writerow([_clean(row.get(term)) for term in terms])
