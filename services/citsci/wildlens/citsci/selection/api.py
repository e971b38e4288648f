"""A project's selection policy, and selecting a subject set's subjects by it."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from wildlens.citsci.deps import (
    CitsciSettingsDep,
    ClientsDep,
    DatabaseDep,
    SessionDep,
    StoreDep,
)
from wildlens.citsci.selection import service
from wildlens.citsci.selection.schemas import (
    SelectionPolicyIn,
    SelectionPolicyPublic,
    SelectionRequest,
    SelectionResult,
    Skipped,
)
from wildlens.citsci.zooniverse.schemas import SendFailure, SendReportPublic
from wildlens.common.errors import Conflict
from wildlens.common.http import ERROR_RESPONSES, PrincipalDep
from wildlens.common.http.errors import error_response

router = APIRouter(prefix="/v1/citsci", tags=["citsci"], responses=ERROR_RESPONSES)


@router.get("/projects/{project_id}/selection-policy", response_model=SelectionPolicyPublic)
async def get_selection_policy(
    project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> SelectionPolicyPublic:
    """The project's selection policy: which media go to volunteers (the defaults until a
    manager sets one) (the project's managers)."""
    principal.require_user()
    principal.require(str(project_id), "manager")
    return await service.policy_of(session, project_id)


@router.put("/projects/{project_id}/selection-policy", response_model=SelectionPolicyPublic)
async def set_selection_policy(
    project_id: uuid.UUID, body: SelectionPolicyIn, session: SessionDep, principal: PrincipalDep
) -> SelectionPolicyPublic:
    """Set the project's selection policy; fields left out take their defaults (the
    project's managers)."""
    principal.require_user()
    principal.require(str(project_id), "manager")
    return await service.set_policy(session, project_id, body, by=principal.subject)


@router.post(
    "/subject-sets/{subject_set_id}/select",
    response_model=SelectionResult,
    responses={
        409: error_response("The set goes to Zooniverse and no Zooniverse account is configured"),
        502: error_response("Zooniverse refused or could not be reached"),
    },
)
async def select_subjects(
    subject_set_id: uuid.UUID,
    body: SelectionRequest,
    session: SessionDep,
    database: DatabaseDep,
    store: StoreDep,
    clients: ClientsDep,
    settings: CitsciSettingsDep,
    principal: PrincipalDep,
) -> SelectionResult:
    """Choose media for the set by its project's selection policy and make them its
    subjects: built-in subjects (an event's pictures or a video clip's frames together), or
    images sent to its Zooniverse workflow. Each subject comes with why it was chosen; media
    an expert validated, media the set holds, blanks the detector is sure of and, where the
    project hides people, media with people are never chosen (the project's managers)."""
    principal.require_user()
    s = await service.find_set(session, subject_set_id)
    principal.require(str(s.project_id), "manager", what="subject set")
    if s.destination == "zooniverse" and not body.dry_run and not settings.zooniverse.configured:
        raise Conflict(
            "no Zooniverse account is configured: set WILDLENS_CITSCI__ZOONIVERSE__CLIENT_ID "
            "and __CLIENT_SECRET"
        )
    policy = await service.policy_of(session, s.project_id)
    catalogue = lambda: clients.client("catalogue")  # noqa: E731
    found = await service.choose(session, catalogue, s, policy, body.limit)
    skipped = list({x.media_id: x for x in found.skipped}.values())
    result = SelectionResult(
        subject_set_id=s.id,
        subjects=found.subjects,
        skipped=[Skipped.model_validate(x) for x in skipped],
        scanned=found.scanned,
        dry_run=body.dry_run,
    )
    if body.dry_run or not found.subjects:
        return result
    if s.destination == "builtin":
        await service.make_builtin(session, catalogue, s, found, created_by=principal.subject)
        return result
    # Sending commits as it goes: what was read here is done with first.
    await session.commit()
    report = await service.send_to_zooniverse(
        database, settings.zooniverse, store, catalogue, s, found
    )
    result.sent = SendReportPublic(
        sent=report.sent,
        already=report.already,
        failed=[SendFailure(media_id=m, reason=r) for m, r in report.failed],
    )
    return result
