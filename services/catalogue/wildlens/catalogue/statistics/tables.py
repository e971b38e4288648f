"""Each statistic as one flat table: the rows JSON returns, CSV writes and PNG plots."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Deployment
from wildlens.catalogue.statistics import repository
from wildlens.catalogue.statistics.effort import (
    SPECIES_RULE,
    Span,
    SurveyTooLong,
    accumulation,
    trap_nights,
)
from wildlens.catalogue.statistics.params import Scope
from wildlens.common.db import utcnow
from wildlens.common.errors import FieldError, Invalid

__all__ = [
    "ALL_LOCATIONS",
    "DETECTION_RATE_RULE",
    "STATISTICS",
    "StatisticName",
    "Table",
    "compute",
]

StatisticName = Literal[
    "counts",
    "relative-abundance",
    "activity",
    "detection-rate",
    "species-accumulation",
    "abundance",
    "concentration",
    "biovolume",
]
ALL_LOCATIONS = "all locations"


DETECTION_RATE_RULE = "media with at least one animal observation, each medium once"


@dataclass
class Table:
    name: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    # How animals were counted, said with the numbers (see ``repository.COUNTING_RULE``):
    # each rule once, so that a chart can put each in words of its own.
    rules: tuple[str, ...] = (repository.COUNTING_RULE,)
    # The independence interval the numbers depend on; None for those it does not change
    # (media counted one by one, first sightings).
    independence_interval_s: int | None = None
    # Per-sample statistics of single objects: the formulas used, what each input column
    # holds, and what was left out and why.
    formula: str = ""
    inputs: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def counting_rule(self) -> str:
        """The rules as one phrase, as the JSON answer names them."""
        return "; ".join(self.rules)


@dataclass(frozen=True)
class _Site:
    """The deployments in scope, with what effort and labels need."""

    deployments: list[Deployment]
    location_names: dict[uuid.UUID, str]


async def _site(session: AsyncSession, project_id: uuid.UUID, s: Scope) -> _Site:
    deployments = await repository.deployments_in_scope(session, project_id, s)
    return _Site(deployments, await repository.location_names(session, project_id))


def _effort(site: _Site, s: Scope) -> dict[uuid.UUID, float]:
    """Trap-nights per location, each deployment clipped to the scope's time range."""
    now = utcnow()
    by_location: dict[uuid.UUID, float] = defaultdict(float)
    for d in site.deployments:
        by_location[d.location_id] += trap_nights(
            Span(d.start, d.end), s.captured_from, s.captured_to, now=now
        )
    return dict(by_location)


async def counts(session: AsyncSession, project_id: uuid.UUID, s: Scope, interval_s: int) -> Table:
    site = await _site(session, project_id, s)
    table = Table(
        "counts",
        "Independent detections by taxon and location",
        [
            "taxon",
            "location_id",
            "location_name",
            "independent_detections",
            "records",
            "individuals",
        ],
        independence_interval_s=interval_s,
    )
    for taxon, location_id, detections, n, individuals in sorted(
        await repository.counts_by_location(session, project_id, s, interval_s),
        key=lambda r: (r[0], site.location_names.get(r[1], ""), str(r[1])),
    ):
        table.rows.append(
            {
                "taxon": taxon,
                "location_id": location_id,
                "location_name": site.location_names.get(location_id, ""),
                "independent_detections": detections,
                "records": n,
                "individuals": individuals,
            }
        )
    return table


async def relative_abundance(
    session: AsyncSession, project_id: uuid.UUID, s: Scope, interval_s: int
) -> Table:
    """Independent detections per 100 trap-nights, per taxon at each location with effort
    (zeros included: not seen there is a result) and over all of them."""
    site = await _site(session, project_id, s)
    effort = {k: v for k, v in _effort(site, s).items() if v > 0}
    detections: dict[str, dict[uuid.UUID, int]] = defaultdict(dict)
    for taxon, location_id, n, _, _ in await repository.counts_by_location(
        session, project_id, s, interval_s
    ):
        detections[taxon][location_id] = n
    table = Table(
        "relative-abundance",
        "Relative abundance index (independent detections per 100 trap-nights)",
        ["taxon", "location_id", "location_name", "trap_nights", "independent_detections", "rai"],
        independence_interval_s=interval_s,
    )
    locations = sorted(effort, key=lambda i: (site.location_names.get(i, ""), str(i)))
    total_effort = sum(effort.values())
    for taxon in sorted(detections):
        seen = detections[taxon]
        for location_id in locations:
            n = seen.get(location_id, 0)
            table.rows.append(
                {
                    "taxon": taxon,
                    "location_id": location_id,
                    "location_name": site.location_names.get(location_id, ""),
                    "trap_nights": effort[location_id],
                    "independent_detections": n,
                    "rai": 100 * n / effort[location_id],
                }
            )
        n = sum(seen.get(i, 0) for i in locations)
        table.rows.append(
            {
                "taxon": taxon,
                "location_id": None,
                "location_name": ALL_LOCATIONS,
                "trap_nights": total_effort,
                "independent_detections": n,
                "rai": 100 * n / total_effort if total_effort else None,
            }
        )
    return table


async def activity(
    session: AsyncSession, project_id: uuid.UUID, s: Scope, interval_s: int
) -> Table:
    """Independent detections per taxon by local hour of day, all 24 hours."""
    by_taxon: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    for taxon, hour, n in await repository.activity_by_hour(session, project_id, s, interval_s):
        by_taxon[taxon][hour] += n
    table = Table(
        "activity",
        "Activity by local hour of day (independent detections)",
        ["taxon", "hour", "independent_detections", "share"],
        independence_interval_s=interval_s,
    )
    for taxon in sorted(by_taxon):
        hours = by_taxon[taxon]
        total = sum(hours)
        for hour, n in enumerate(hours):
            table.rows.append(
                {
                    "taxon": taxon,
                    "hour": hour,
                    "independent_detections": n,
                    "share": n / total if total else 0.0,
                }
            )
    return table


async def detection_rate(
    session: AsyncSession, project_id: uuid.UUID, s: Scope, interval_s: int
) -> Table:
    """Share of each deployment's media with an animal (of the scope's taxon, when given)."""
    site = await _site(session, project_id, s)
    media = {d: (n, a) for d, n, a in await repository.media_by_deployment(session, project_id, s)}
    table = Table(
        "detection-rate",
        "Share of media with an animal, per deployment",
        [
            "deployment_id",
            "location_id",
            "location_name",
            "start",
            "media",
            "media_with_animal",
            "detection_rate",
        ],
        rules=(DETECTION_RATE_RULE,),
    )
    for d in site.deployments:
        n, with_animal = media.get(d.id, (0, 0))
        table.rows.append(
            {
                "deployment_id": d.id,
                "location_id": d.location_id,
                "location_name": site.location_names.get(d.location_id, ""),
                "start": d.start,
                "media": n,
                "media_with_animal": with_animal,
                "detection_rate": with_animal / n if n else None,
            }
        )
    return table


async def species_accumulation(
    session: AsyncSession, project_id: uuid.UUID, s: Scope, interval_s: int
) -> Table:
    """Species against cumulative trap-nights, one row per day of the survey: a coarser
    taxon (Aves, Ardea) adds a species only while nothing below it was seen."""
    site = await _site(session, project_id, s)
    seen = await repository.first_seen(session, project_id, s)
    try:
        points = accumulation(
            [Span(d.start, d.end) for d in site.deployments],
            seen,
            s.captured_from,
            s.captured_to,
            now=utcnow(),
            ancestors=await repository.ancestors(session, list(seen)),
        )
    except SurveyTooLong as exc:
        message = f"{exc}; ask for a period with captured_from and captured_to"
        raise Invalid(
            message,
            fields=[
                FieldError(location=["query", name], message=message, type="value_error")
                for name in ("captured_from", "captured_to")
            ],
        ) from None
    table = Table(
        "species-accumulation",
        "Species accumulation (species against trap-nights)",
        ["date", "trap_nights", "species", "new_taxa"],
        rules=(repository.COUNTING_RULE, SPECIES_RULE),
    )
    for p in points:
        table.rows.append(
            {
                "date": p.day,
                "trap_nights": p.trap_nights,
                "species": p.species,
                "new_taxa": "; ".join(p.new_taxa),
            }
        )
    return table


Compute = Callable[[AsyncSession, uuid.UUID, Scope, int], Awaitable[Table]]

STATISTICS: dict[str, Compute] = {
    "counts": counts,
    "relative-abundance": relative_abundance,
    "activity": activity,
    "detection-rate": detection_rate,
    "species-accumulation": species_accumulation,
}


async def compute(
    session: AsyncSession, project_id: uuid.UUID, name: str, s: Scope, interval_s: int
) -> Table:
    return await STATISTICS[name](session, project_id, s, interval_s)
