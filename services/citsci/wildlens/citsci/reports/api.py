"""``/v1/citsci/projects/{project_id}/reports/...``: how well the built-in volunteers agree,
with each other and with the experts, as JSON or CSV."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from wildlens.citsci.deps import ClientsDep, SessionDep
from wildlens.citsci.reports import service
from wildlens.citsci.reports.csv_table import csv_response
from wildlens.citsci.reports.schemas import (
    ConfusionCell,
    ExpertAgreementReport,
    SubjectAgreement,
    SubjectReport,
    VolunteerReport,
    VolunteerSkill,
)
from wildlens.common.http import ERROR_RESPONSES, PrincipalDep

router = APIRouter(
    prefix="/v1/citsci/projects/{project_id}/reports", tags=["citsci"], responses=ERROR_RESPONSES
)

FormatQuery = Annotated[
    Literal["json", "csv"], Query(description="json, or csv for the same rows as a table")
]
CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "The report as JSON, or with format=csv its rows as CSV",
    }
}


def _names(names: Any) -> str:
    return "; ".join(names) if names is not None else ""


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@router.get("/subjects", response_model=SubjectReport, responses=CSV)
async def subjects_report(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    format: FormatQuery = "json",
) -> Any:
    """Agreement per built-in subject: its classifications, the votes for each species and
    for nothing here, the share giving the most common answer, Pielou's evenness, and once
    retired its consensus, method and reason (the project's annotators)."""
    principal.require_user()
    principal.require(str(project_id), "annotator")
    items = [
        SubjectAgreement(
            subject_id=f.subject.id,
            subject_set_id=f.subject.subject_set_id,
            state=f.subject.state,
            media_ids=[uuid.UUID(m) for m in f.subject.media_ids],
            classifications=f.classifications,
            votes=f.votes,
            nothing_here=f.nothing_here,
            agreement=f.agreement,
            evenness=f.evenness,
            consensus=f.subject.consensus_names if f.subject.state == "retired" else None,
            method=f.subject.consensus_method if f.subject.state == "retired" else None,
            retirement_reason=f.subject.retirement_reason,
        )
        for f in await service.subject_figures(session, project_id)
    ]
    if format == "csv":
        columns = [
            "subject_id",
            "subject_set_id",
            "state",
            "media_ids",
            "classifications",
            "votes",
            "nothing_here",
            "agreement",
            "evenness",
            "consensus",
            "method",
            "retirement_reason",
        ]
        return csv_response(
            "subjects",
            columns,
            (
                [
                    i.subject_id,
                    i.subject_set_id,
                    i.state,
                    _names([str(m) for m in i.media_ids]),
                    i.classifications,
                    _names([f"{k}: {v}" for k, v in i.votes.items()]),
                    i.nothing_here,
                    i.agreement,
                    i.evenness,
                    _names(i.consensus),
                    i.method,
                    i.retirement_reason,
                ]
                for i in items
            ),
        )
    return SubjectReport(project_id=project_id, items=items)


@router.get("/volunteers", response_model=VolunteerReport, responses=CSV)
async def volunteers_report(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    format: FormatQuery = "json",
) -> Any:
    """Each volunteer's classifications, accuracy on the gold standard, skill as Dawid-Skene
    estimates it, and agreement with the consensus of the subjects that retired; volunteers
    see their own figures at /v1/citsci/volunteers/me/stats (the project's managers)."""
    principal.require_user()
    principal.require(str(project_id), "manager")
    items = [
        VolunteerSkill(
            volunteer=f.volunteer,
            classifications=f.classifications,
            gold_classified=f.gold_classified,
            gold_correct=f.gold_correct,
            gold_accuracy=_share(f.gold_correct, f.gold_classified),
            skill=f.skill,
            retired_classified=f.retired_classified,
            agreed_with_consensus=f.agreed,
            agreement=_share(f.agreed, f.retired_classified),
        )
        for f in await service.volunteer_figures(session, project_id)
    ]
    if format == "csv":
        columns = list(VolunteerSkill.model_fields)
        return csv_response(
            "volunteers", columns, ([getattr(i, c) for c in columns] for i in items)
        )
    return VolunteerReport(project_id=project_id, items=items)


@router.get("/experts", response_model=ExpertAgreementReport, responses=CSV)
async def experts_report(
    project_id: uuid.UUID,
    session: SessionDep,
    clients: ClientsDep,
    principal: PrincipalDep,
    format: FormatQuery = "json",
) -> Any:
    """The volunteers' consensus against the experts' judgement where both exist: retired
    subjects whose media an expert has judged, how many agree, and the confusion between
    what the expert and the volunteers said; CSV gives the confusion's cells (the project's
    annotators)."""
    principal.require_user()
    principal.require(str(project_id), "annotator")
    confusion = await service.expert_agreement(
        session, lambda: clients.client("catalogue"), project_id
    )
    cells = [
        ConfusionCell(expert=list(e), volunteers=list(v), subjects=n) for e, v, n in confusion.cells
    ]
    if format == "csv":
        return csv_response(
            "experts",
            ["expert", "volunteers", "subjects"],
            ([_names(c.expert), _names(c.volunteers), c.subjects] for c in cells),
        )
    return ExpertAgreementReport(
        project_id=project_id,
        compared=confusion.compared,
        agreed=confusion.agreed,
        agreement=_share(confusion.agreed, confusion.compared),
        confusion=cells,
    )
