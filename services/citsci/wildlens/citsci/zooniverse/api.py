"""``/v1/citsci/subject-sets/{id}/zooniverse``: a subject set's media sent to Zooniverse."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from wildlens.citsci.deps import (
    BusDep,
    CitsciSettingsDep,
    ClientsDep,
    DatabaseDep,
    SessionDep,
    StoreDep,
)
from wildlens.citsci.settings import ZooniverseSettings
from wildlens.citsci.volunteers.catalogue import project_taxon_names
from wildlens.citsci.zooniverse import service
from wildlens.citsci.zooniverse.answers import taxon_names
from wildlens.citsci.zooniverse.catalogue import project_media
from wildlens.citsci.zooniverse.gateway import Zooniverse
from wildlens.citsci.zooniverse.people import withdraw_hidden_people
from wildlens.citsci.zooniverse.schemas import (
    PullReportPublic,
    SendFailure,
    SendReportPublic,
    ZooniversePull,
    ZooniverseSend,
)
from wildlens.common.errors import Conflict, NotFound
from wildlens.common.http import ERROR_RESPONSES, PrincipalDep
from wildlens.common.http.errors import error_response

router = APIRouter(prefix="/v1/citsci/subject-sets", tags=["citsci"], responses=ERROR_RESPONSES)


def _require_account(account: ZooniverseSettings) -> None:
    if not account.configured:
        raise Conflict(
            "no Zooniverse account is configured: set WILDLENS_CITSCI__ZOONIVERSE__CLIENT_ID "
            "and __CLIENT_SECRET"
        )


@router.post(
    "/{subject_set_id}/zooniverse/send",
    response_model=SendReportPublic,
    operation_id="send_to_zooniverse",
    responses={
        409: error_response(
            "The set does not go to Zooniverse, or no Zooniverse account is configured"
        ),
        502: error_response("Zooniverse refused or could not be reached"),
    },
)
async def send_to_zooniverse(
    subject_set_id: uuid.UUID,
    body: ZooniverseSend,
    session: SessionDep,
    database: DatabaseDep,
    store: StoreDep,
    clients: ClientsDep,
    settings: CitsciSettingsDep,
    principal: PrincipalDep,
) -> SendReportPublic:
    """Send media of the set's project to its Zooniverse workflow as subjects: their GPS-free
    display copies, uploaded as bytes, with no place in their metadata. Media sent before
    are left as they are; a medium whose upload failed is sent again by the next call (the
    project's managers)."""
    principal.require_user()
    subject_set = await service.subject_set(session, subject_set_id)
    if subject_set is None:
        raise NotFound("subject set not found")
    principal.require(str(subject_set.project_id), "manager", what="subject set")
    # The media first: another project's are refused whatever else is wrong.
    media = await project_media(
        lambda: clients.client("catalogue"), subject_set.project_id, body.media_ids
    )
    _require_account(settings.zooniverse)
    gateway = Zooniverse(settings.zooniverse)
    # Subjects sent before the project hid people go first.
    await withdraw_hidden_people(
        database, lambda: clients.client("catalogue"), subject_set.project_id, gateway
    )
    report = await service.send(
        database,
        gateway,
        subject_set_id,
        media,
        service.display_copies(store),
    )
    return SendReportPublic(
        sent=report.sent,
        already=report.already,
        failed=[SendFailure(media_id=m, reason=r) for m, r in report.failed],
    )


@router.post(
    "/{subject_set_id}/zooniverse/pull",
    response_model=PullReportPublic,
    operation_id="pull_from_zooniverse",
    responses={
        409: error_response(
            "The set is not classified on Zooniverse, or no Zooniverse account is configured"
        ),
        413: error_response(
            "The export, or the recent classifications listed, are past their limit (named)"
        ),
        422: error_response(
            "The export is not a classification export at all (line named); single malformed "
            "classifications are left out and named in the answer's problems instead"
        ),
        502: error_response("Zooniverse refused or could not be reached"),
    },
)
async def pull_from_zooniverse(
    subject_set_id: uuid.UUID,
    session: SessionDep,
    database: DatabaseDep,
    bus: BusDep,
    clients: ClientsDep,
    settings: CitsciSettingsDep,
    principal: PrincipalDep,
    body: ZooniversePull | None = None,
) -> PullReportPublic:
    """Pull what Zooniverse volunteers said of the set's subjects from its workflow's
    classification export (or, with ``source`` recent, the classifications Zooniverse's API
    lists since the newest one stored): each classification stored once (never the volunteer's IP
    address), the set's retirement rules applied as they arrive, the consensus of each
    subject that retires published to the catalogue, and the subject retired on Zooniverse.
    Pulling again adds only what is new. Where the project hides people, subjects showing
    media with people are withdrawn first (the project's managers)."""
    principal.require_user()
    subject_set = await service.subject_set(session, subject_set_id)
    if subject_set is None:
        raise NotFound("subject set not found")
    principal.require(str(subject_set.project_id), "manager", what="subject set")
    if subject_set.destination != "zooniverse":
        raise Conflict(f"subject set {subject_set_id} is not classified on Zooniverse")
    _require_account(settings.zooniverse)
    names = await project_taxon_names(lambda: clients.client("catalogue"), subject_set.project_id)
    gateway = Zooniverse(settings.zooniverse)
    # Subjects showing people the project hides since they were sent: retired first.
    await withdraw_hidden_people(
        database, lambda: clients.client("catalogue"), subject_set.project_id, gateway
    )
    pulled = await service.pull(
        database,
        bus,
        gateway,
        subject_set_id,
        taxon_names(names),
        generate=body is not None and body.generate,
        recent=body is not None and body.source == "recent",
    )
    r = pulled.report
    return PullReportPublic(
        classifications=r.read,
        stored=r.stored,
        already=r.already,
        other_subjects=r.other_subjects,
        retired=r.retired,
        updated=r.updated,
        retired_on_zooniverse=pulled.retired_on_zooniverse,
        retirement_waiting=pulled.retirement_waiting,
        malformed=r.malformed,
        problems=r.problems,
    )
