"""``Timestamp``: the one type of every date-time the API reads, in a query string or a body.

RFC 3339 with an offset, like FastAPI's ``AwareDatetime``, and also an instant Python can
hold in UTC: ``0001-01-01T00:00:00+14:00`` is a valid RFC 3339 text, but in UTC it falls in
year 0, and ``9999-12-31T23:59:59-14:00`` in year 10000, where every conversion to UTC (for
storage, comparison or arithmetic) raises ``OverflowError``. Such values are refused as the
field's validation error (422 with the field's location), never carried further.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

__all__ = ["EARLIEST", "LATEST", "Timestamp"]

# A week inside Python's range at each end, so that the intervals the platform adds to a
# bound (independence intervals of up to a week, a day for date ranges) stay representable.
EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=8)
LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=8)


def _representable(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(f"must lie between {EARLIEST.isoformat()} and {LATEST.isoformat()} in UTC")
    return value


Timestamp = Annotated[AwareDatetime, AfterValidator(_representable)]
