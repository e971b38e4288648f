"""Every problem of an import file, collected before anything is written.

An import reads the whole file, notes every problem with where it is (the file or section,
the record or line, the field), and refuses the file with all of them at once, so that one
round of corrections fixes it.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from wildlens.common.errors import FieldError, Invalid

__all__ = ["FileProblem", "Problems"]

# More than this many problems say the file is of another kind altogether; the rest are
# counted, not listed.
MAX_LISTED = 1000


def _absent(value: Any) -> bool:
    return value is None


class FileProblem(FieldError):
    """A problem in an imported file, as every field error reads (``location`` is ``file``,
    then the resource, row and field that are known), and with the resource, row and field
    also on their own, as import reports have always carried them."""

    # The file or section (a Camtrap DP table, a KSO CSV, a COCO section); None for the
    # package as a whole.
    resource: str | None
    row: int | None = Field(default=None, exclude_if=_absent)
    field: str | None = Field(default=None, exclude_if=_absent)

    @classmethod
    def at(
        cls,
        resource: str | None,
        message: str,
        *,
        type: str,
        row: int | None = None,
        field: str | None = None,
    ) -> FileProblem:
        where = [part for part in (resource, row, field) if part is not None]
        return cls(
            location=["file", *where],
            message=message,
            type=type,
            resource=resource,
            row=row,
            field=field,
        )


class Problems:
    """The problems found in one import, in the shape the API's ``fields`` carry them."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.items: list[FileProblem] = []
        self.count = 0

    def add(
        self,
        resource: str,
        message: str,
        *,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.count += 1
        if len(self.items) < MAX_LISTED:
            self.items.append(
                FileProblem.at(resource, message, type=self.what, row=row, field=field)
            )

    def __bool__(self) -> bool:
        return self.count > 0

    def raise_if_any(self) -> None:
        """Refuse the import with every problem, if there is one."""
        if self.count:
            raise Invalid(
                f"the {self.what} file has {self.count} problem(s); nothing was imported",
                fields=self.items,
            )
