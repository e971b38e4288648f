"""``/v1/citsci/projects/{project_id}/reports/...``: how well the built-in volunteers agree,
with each other and with the experts, as JSON or CSV."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

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
from wildlens.common.http import ERROR_RESPONSES, PageDep, PrincipalDep
from wildlens.common.http.pagination import bad_cursor, decode_cursor, encode_cursor

router = APIRouter(
    prefix="/v1/citsci/projects/{project_id}/reports", tags=["citsci"], responses=ERROR_RESPONSES
)

FormatQuery = Annotated[
    Literal["json", "csv"], Query(description="json, or csv for the same rows as a table")
]
# The header a CSV page names the next page's cursor in.
NEXT_CURSOR = "X-Next-Cursor"
CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "A page of the report as JSON, or with format=csv its rows as CSV (the "
        f"next page's cursor in {NEXT_CURSOR})",
    }
}


def _paged_csv(
    name: str, columns: list[str], rows: Iterable[list[Any]], next_cursor: str | None
) -> Response:
    """The page's rows as CSV; the next page's cursor in ``X-Next-Cursor`` (none on the
    last)."""
    response = csv_response(name, columns, rows)
    if next_cursor is not None:
        response.headers[NEXT_CURSOR] = next_cursor
    return response


def _subject_after(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    key = decode_cursor(cursor)
    try:
        made, subject_id = key
        after = datetime.fromisoformat(str(made)), uuid.UUID(str(subject_id))
    except ValueError:
        raise bad_cursor() from None
    if after[0].tzinfo is None:
        raise bad_cursor()
    return after


def _volunteer_after(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    key = decode_cursor(cursor)
    if len(key) != 1 or not isinstance(key[0], str):
        raise bad_cursor()
    return key[0]


def _cell_after(cursor: str | None) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    if cursor is None:
        return None
    key = decode_cursor(cursor)
    if len(key) != 2 or not all(
        isinstance(part, list) and all(isinstance(n, str) for n in part) for part in key
    ):
        raise bad_cursor()
    return tuple(key[0]), tuple(key[1])


def _names(names: Any) -> str:
    return "; ".join(names) if names is not None else ""


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@router.get("/subjects", response_model=SubjectReport, responses=CSV)
async def subjects_report(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    format: FormatQuery = "json",
) -> Any:
    """Agreement per built-in subject: its classifications, the votes for each species and
    for nothing here, the share giving the most common answer, Pielou's evenness, and once
    retired its consensus, method and reason; oldest first, a page at a time (the project's
    annotators)."""
    principal.require_user()
    principal.require(str(project_id), "annotator")
    figures = await service.subject_figures(
        session, project_id, _subject_after(page.cursor), page.limit + 1
    )
    next_cursor = None
    if len(figures) > page.limit:
        figures = figures[: page.limit]
        last = figures[-1].subject
        next_cursor = encode_cursor([last.created_at.isoformat(), str(last.id)])
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
        for f in figures
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
        return _paged_csv(
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
            next_cursor,
        )
    return SubjectReport(project_id=project_id, items=items, next_cursor=next_cursor)


@router.get("/volunteers", response_model=VolunteerReport, responses=CSV)
async def volunteers_report(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    format: FormatQuery = "json",
) -> Any:
    """Each volunteer's classifications, accuracy on the gold standard, skill as Dawid-Skene
    estimates it, and agreement with the consensus of the subjects that retired; volunteers
    see their own figures at /v1/citsci/volunteers/me/stats; by name, a page at a time (the
    project's managers)."""
    principal.require_user()
    principal.require(str(project_id), "manager")
    after = _volunteer_after(page.cursor)
    # Skill is estimated over every classification whichever page is asked for.
    figures = [
        f
        for f in await service.volunteer_figures(session, project_id)
        if after is None or f.volunteer > after
    ]
    next_cursor = None
    if len(figures) > page.limit:
        figures = figures[: page.limit]
        next_cursor = encode_cursor([figures[-1].volunteer])
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
        for f in figures
    ]
    if format == "csv":
        columns = list(VolunteerSkill.model_fields)
        return _paged_csv(
            "volunteers", columns, ([getattr(i, c) for c in columns] for i in items), next_cursor
        )
    return VolunteerReport(project_id=project_id, items=items, next_cursor=next_cursor)


@router.get("/experts", response_model=ExpertAgreementReport, responses=CSV)
async def experts_report(
    project_id: uuid.UUID,
    session: SessionDep,
    clients: ClientsDep,
    principal: PrincipalDep,
    page: PageDep,
    format: FormatQuery = "json",
) -> Any:
    """The volunteers' consensus against the experts' judgement where both exist: retired
    subjects whose media an expert has judged, how many agree, and the confusion between
    what the expert and the volunteers said, its cells a page at a time; CSV gives the
    page's cells (the project's annotators)."""
    principal.require_user()
    principal.require(str(project_id), "annotator")
    confusion = await service.expert_agreement(
        session, lambda: clients.client("catalogue"), project_id
    )
    after = _cell_after(page.cursor)
    paged = [
        (key, cell)
        for key, cell in zip(confusion.keys, confusion.cells, strict=True)
        if after is None or key > after
    ]
    next_cursor = None
    if len(paged) > page.limit:
        paged = paged[: page.limit]
        next_cursor = encode_cursor([list(k) for k in paged[-1][0]])
    cells = [
        ConfusionCell(expert=list(e), volunteers=list(v), subjects=n) for _, (e, v, n) in paged
    ]
    if format == "csv":
        return _paged_csv(
            "experts",
            ["expert", "volunteers", "subjects"],
            ([_names(c.expert), _names(c.volunteers), c.subjects] for c in cells),
            next_cursor,
        )
    return ExpertAgreementReport(
        project_id=project_id,
        compared=confusion.compared,
        agreed=confusion.agreed,
        agreement=_share(confusion.agreed, confusion.compared),
        confusion=cells,
        next_cursor=next_cursor,
    )
