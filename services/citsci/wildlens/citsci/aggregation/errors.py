"""What goes wrong when an export or a set of votes cannot be aggregated."""

from __future__ import annotations

from dataclasses import dataclass, field

from wildlens.common.errors import Invalid

__all__ = ["ExportError", "Skipped", "skip_or_raise"]


class ExportError(Invalid):
    """A classification export the aggregation cannot read, with where and why.

    ``line`` is the line of the CSV file (1 is the header) and ``column`` the export's column
    name, so that a person can open the file at the row and fix or drop it.
    """

    def __init__(self, detail: str, *, line: int | None = None, column: str | None = None) -> None:
        where = ""
        if line is not None:
            where = f"line {line}"
            if column is not None:
                where += f", column {column!r}"
            where += ": "
        super().__init__(where + detail)
        self.line = line
        self.column = column


@dataclass
class Skipped:
    """Classifications left out because they are malformed, where one bad record must not keep
    the rest from being read: how many, and what was wrong with the first ``keep``."""

    keep: int = 20
    count: int = 0
    first: list[str] = field(default_factory=list)

    def add(self, error: ExportError) -> None:
        self.count += 1
        if len(self.first) < self.keep:
            self.first.append(error.detail)


def skip_or_raise(skipped: Skipped | None, error: ExportError) -> None:
    """Count ``error``'s record in ``skipped`` and go on; without one, the read ends here."""
    if skipped is None:
        raise error
    skipped.add(error)
