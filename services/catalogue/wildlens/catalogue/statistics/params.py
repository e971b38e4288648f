"""What a statistic is computed over, from the query string, checked before any query runs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Query

from wildlens.common.errors import FieldError, Invalid
from wildlens.common.http import Timestamp

__all__ = ["Scope", "scope"]

# A week: beyond that "independent" no longer means anything at a camera station.
MAX_INDEPENDENCE_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Scope:
    captured_from: datetime | None = None
    captured_to: datetime | None = None
    location_ids: tuple[uuid.UUID, ...] = ()
    deployment_ids: tuple[uuid.UUID, ...] = ()
    taxon_id: uuid.UUID | None = None
    verified_only: bool = False
    # None: the project's setting (or the default).
    independence_interval_s: int | None = None

    def describe(self, interval_s: int) -> dict[str, Any]:
        """The scope as the response repeats it, so a saved result says what it covers."""
        return {
            "captured_from": self.captured_from,
            "captured_to": self.captured_to,
            "location_ids": list(self.location_ids),
            "deployment_ids": list(self.deployment_ids),
            "taxon_id": self.taxon_id,
            "verified_only": self.verified_only,
            "independence_interval_s": interval_s,
        }


def query_problem(name: str, message: str) -> FieldError:
    """A problem with the query parameter ``name``, as ``Invalid`` lists it."""
    return FieldError(location=["query", name], message=f"{name} {message}", type="value_error")


def scope(
    captured_from: Annotated[
        Timestamp | None,
        Query(description="Records at or after this time (RFC 3339 with offset)"),
    ] = None,
    captured_to: Annotated[
        Timestamp | None,
        Query(description="Records before this time (RFC 3339 with offset)"),
    ] = None,
    location_id: Annotated[
        list[uuid.UUID] | None, Query(description="Only these locations (repeatable)")
    ] = None,
    deployment_id: Annotated[
        list[uuid.UUID] | None, Query(description="Only these deployments (repeatable)")
    ] = None,
    taxon_id: Annotated[
        uuid.UUID | None, Query(description="Only this taxon and the taxa below it")
    ] = None,
    verified_only: Annotated[
        bool, Query(description="Only observations a person made or confirmed")
    ] = False,
    independence_interval_s: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_INDEPENDENCE_S,
            description="Records of one taxon at one location closer than this count as one "
            "detection (default: the project's setting)",
        ),
    ] = None,
) -> Scope:
    """The statistic's scope from the query string (FastAPI answers 422 for malformed ones)."""
    if captured_from and captured_to and captured_from >= captured_to:
        problem = query_problem("captured_to", "must be later than captured_from")
        raise Invalid(problem.message, fields=[problem])
    return Scope(
        captured_from=captured_from,
        captured_to=captured_to,
        location_ids=tuple(dict.fromkeys(location_id or [])),
        deployment_ids=tuple(dict.fromkeys(deployment_id or [])),
        taxon_id=taxon_id,
        verified_only=verified_only,
        independence_interval_s=independence_interval_s,
    )
