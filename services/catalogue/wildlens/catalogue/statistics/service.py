"""A statistic of a project's detections, over a scope the caller chose: the scope must name
what is there, the summaries are brought up to date, then the table is computed."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import ProjectAccess
from wildlens.catalogue.models import Project
from wildlens.catalogue.objects.samples import project_sample
from wildlens.catalogue.privacy import export_view, request_view
from wildlens.catalogue.statistics import repository
from wildlens.catalogue.statistics.params import ObjectScope, Scope, query_problem
from wildlens.catalogue.statistics.per_sample import OBJECT_STATISTICS, per_sample
from wildlens.catalogue.statistics.summaries import refresh
from wildlens.catalogue.statistics.tables import Table, compute
from wildlens.common.db import Database
from wildlens.common.errors import FieldError, Invalid

__all__ = ["check_samples", "check_scope", "statistic"]


async def check_scope(session: AsyncSession, project_id: uuid.UUID, s: Scope) -> None:
    """422 for a location, deployment or taxon that is not there (locations and deployments:
    not in this project): an empty statistic would hide the typo."""
    problems: list[FieldError] = []
    if s.location_ids:
        found = await repository.project_locations(session, project_id, s.location_ids)
        for missing in (i for i in s.location_ids if i not in found):
            problems.append(
                query_problem("location_id", f"{missing} is not a location of this project")
            )
    if s.deployment_ids:
        found = await repository.project_deployments(session, project_id, s.deployment_ids)
        for missing in (i for i in s.deployment_ids if i not in found):
            problems.append(
                query_problem("deployment_id", f"{missing} is not a deployment of this project")
            )
    if s.taxon_id is not None and not await repository.taxon_exists(session, s.taxon_id):
        problems.append(query_problem("taxon_id", "is not a taxon"))
    if problems:
        raise Invalid("; ".join(p.message for p in problems), fields=problems)


async def check_samples(session: AsyncSession, project_id: uuid.UUID, o: ObjectScope) -> None:
    """422 for a sample that is not this project's."""
    problems = [
        query_problem("sample_id", f"{i} is not a sample of this project")
        for i in o.sample_ids
        if await project_sample(session, project_id, i) is None
    ]
    if problems:
        raise Invalid("; ".join(p.message for p in problems), fields=problems)


async def statistic(
    db: Database,
    session: AsyncSession,
    project: Project,
    name: str,
    s: Scope,
    o: ObjectScope | None = None,
    access: ProjectAccess | None = None,
) -> tuple[Table, int]:
    """The statistic's table, and the independence interval it used (the scope's, else the
    project's). Positions are as ``access``'s caller may see them (exact without one)."""
    await check_scope(session, project.id, s)
    interval_s = s.independence_interval_s
    if interval_s is None:
        interval_s = project.independence_interval_s
    o = o or ObjectScope()
    await check_samples(session, project.id, o)
    if (
        name in OBJECT_STATISTICS
        and project.media_kind != "objects"
        and not await repository.has_objects(session, project.id)
    ):
        # A camera trap's media have no sample or volume: counting nothing would read as
        # "none found" rather than "not this kind of project". A camera-trap project that
        # holds imported objects too counts those.
        problem = FieldError(
            location=["path", "name"],
            message=f"{name} is a per-sample statistic of single objects (projects whose "
            f"media_kind is objects, or that hold imported objects); this project's media "
            f"are {project.media_kind}: ask for counts or relative-abundance instead",
            type="value_error",
        )
        raise Invalid(problem.message, fields=[problem])
    if name in OBJECT_STATISTICS:
        view = (
            await request_view(session, access)
            if access is not None
            else await export_view(session, project.id, precise=True, public=False)
        )
        table = await per_sample(session, project, name, s, o, view, view.visible_media())
        return table, interval_s
    # The sequences and minutes changed since the last refresh, recomputed and committed
    # first: a statistic is never older than the request.
    await refresh(db, project.id)
    await repository.aggregate_in_memory(session)
    return await compute(session, project.id, name, s, interval_s), interval_s
