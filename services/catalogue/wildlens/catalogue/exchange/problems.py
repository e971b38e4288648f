"""Every problem of an import file, collected before anything is written.

An import reads the whole file, notes every problem with where it is (the file or section,
the record or line, the field), and refuses the file with all of them at once, so that one
round of corrections fixes it.
"""

from __future__ import annotations

from typing import Any

from wildlens.common.errors import Invalid

__all__ = ["Problems"]

# More than this many problems say the file is of another kind altogether; the rest are
# counted, not listed.
MAX_LISTED = 1000


class Problems:
    """The problems found in one import, in the shape the API's ``fields`` carry them."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.items: list[dict[str, Any]] = []
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
            problem: dict[str, Any] = {"resource": resource, "type": self.what, "message": message}
            if row is not None:
                problem["row"] = row
            if field is not None:
                problem["field"] = field
            self.items.append(problem)

    def __bool__(self) -> bool:
        return self.count > 0

    def raise_if_any(self) -> None:
        """Refuse the import with every problem, if there is one."""
        if self.count:
            raise Invalid(
                f"the {self.what} file has {self.count} problem(s); nothing was imported",
                fields=self.items,
            )
