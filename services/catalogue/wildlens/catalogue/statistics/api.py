"""``GET /v1/projects/{project_id}/statistics/{name}``: a statistic as JSON, CSV or PNG."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from wildlens.catalogue.access import ViewerDep
from wildlens.catalogue.deps import DatabaseDep, SessionDep
from wildlens.catalogue.statistics import service
from wildlens.catalogue.statistics.params import ObjectScope, Scope, object_scope, scope
from wildlens.catalogue.statistics.per_sample import OBJECT_STATISTICS
from wildlens.catalogue.statistics.render import to_csv, to_json_value, to_png
from wildlens.catalogue.statistics.tables import StatisticName
from wildlens.common.http import ERROR_RESPONSES

router = APIRouter(
    prefix="/v1/projects/{project_id}", tags=["statistics"], responses=ERROR_RESPONSES
)

Format = Literal["json", "csv", "png"]
MEDIA_TYPES: dict[str, Format] = {
    "application/json": "json",
    "text/csv": "csv",
    "image/png": "png",
}
ScopeDep = Annotated[Scope, Depends(scope)]
ObjectScopeDep = Annotated[ObjectScope, Depends(object_scope)]


class Statistic(BaseModel):
    name: str
    title: str
    # The filters it was computed over, with the independence interval actually used.
    scope: dict[str, Any]
    columns: list[str]
    rows: list[dict[str, Any]]
    # How animals were counted: each animal once per sequence (event-level observations
    # where the sequence has them, else the most in any one of its media), and for the
    # species accumulation which taxa count as species.
    counting_rule: str
    # Per-sample statistics of single objects: the formulas used, what each input column
    # holds, and what was left out.
    formula: str | None = None
    inputs: dict[str, str] | None = None
    notes: list[str] = []


def negotiate(accept: str | None) -> Format:
    """The format an Accept header prefers among ours; JSON when it names none of them."""
    if not accept:
        return "json"
    ranked: list[tuple[float, int, Format]] = []
    for position, part in enumerate(accept.split(",")):
        media_type, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        chosen = MEDIA_TYPES.get(media_type.lower())
        if chosen is not None and quality > 0:
            ranked.append((-quality, position, chosen))
    return min(ranked)[2] if ranked else "json"


@router.get(
    "/statistics/{name}",
    response_model=Statistic,
    responses={
        200: {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}},
            },
            "description": "The statistic as JSON, CSV (the same rows) or a PNG chart",
        }
    },
)
async def project_statistic(
    name: StatisticName,
    session: SessionDep,
    db: DatabaseDep,
    access: ViewerDep,
    s: ScopeDep,
    o: ObjectScopeDep,
    format: Annotated[
        Format | None, Query(description="json, csv or png; else the Accept header decides")
    ] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    """A statistic of the project's detections (counts, relative-abundance, activity,
    detection-rate, species-accumulation) or, for single objects, per sample (abundance,
    concentration per m³, biovolume per m³, with the formula and inputs used), as JSON, CSV
    or a PNG chart; sample positions generalised where a sensitive taxon was seen, for
    callers without precise_locations (viewers)."""
    chosen = format or negotiate(accept)
    table, interval_s = await service.statistic(db, session, access.project, name, s, o, access)
    if chosen == "csv":
        return Response(
            to_csv(table),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'inline; filename="{name}.csv"'},
        )
    if chosen == "png":
        png = await run_in_threadpool(to_png, table)
        return Response(
            png,
            media_type="image/png",
            headers={"Content-Disposition": f'inline; filename="{name}.png"'},
        )
    return Statistic(
        name=table.name,
        title=table.title,
        scope={k: to_json_value(v) for k, v in s.describe(interval_s).items()}
        | {
            "location_ids": [str(i) for i in s.location_ids],
            "deployment_ids": [str(i) for i in s.deployment_ids],
        }
        | (o.describe() if name in OBJECT_STATISTICS else {}),
        columns=table.columns,
        counting_rule=table.counting_rule,
        formula=table.formula or None,
        inputs=table.inputs or None,
        notes=table.notes,
        rows=[{k: to_json_value(v) for k, v in row.items()} for row in table.rows],
    )
