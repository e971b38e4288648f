"""The built-in volunteers' routes: subjects made by managers, served to volunteers one at a
time, classified, and the stats and progress that follow."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import HTTPAuthorizationCredentials

from wildlens.citsci.deps import BusDep, CitsciSettingsDep, ClientsDep, SessionDep, StoreDep
from wildlens.citsci.models import VolunteerSubject
from wildlens.citsci.people import hides_people
from wildlens.citsci.volunteers import service
from wildlens.citsci.volunteers.catalogue import (
    any_shows_people,
    join_project,
    project_taxa,
    subject_media,
)
from wildlens.citsci.volunteers.schemas import (
    BoxIn,
    ClassificationCreate,
    ClassificationPublic,
    JoinedProject,
    NextSubject,
    ProjectProgress,
    SubjectMediumView,
    SubjectPublic,
    SubjectsCreate,
    SubjectsCreated,
    SubjectView,
    TaxonVote,
    VolunteerStats,
)
from wildlens.common.http import ERROR_RESPONSES, PrincipalDep
from wildlens.common.http.deps import bearer_scheme
from wildlens.common.http.errors import error_response
from wildlens.common.storage import ObjectStore
from wildlens.common.storage.layout import display_key

router = APIRouter(prefix="/v1/citsci", tags=["citsci"], responses=ERROR_RESPONSES)

# Subjects found showing people (and withdrawn) before the next one is served: beyond this,
# nothing is served this time.
PEOPLE_CHECKS = 20


@router.post(
    "/subject-sets/{subject_set_id}/subjects",
    status_code=201,
    response_model=SubjectsCreated,
    responses={409: error_response("The set goes to Zooniverse, not to built-in volunteers")},
)
async def add_subjects(
    subject_set_id: uuid.UUID,
    body: SubjectsCreate,
    session: SessionDep,
    clients: ClientsDep,
    principal: PrincipalDep,
) -> SubjectsCreated:
    """Add subjects to a built-in subject set: each a single image or the frames of one
    event, shown to the project's volunteers until it retires. Media an expert has validated
    make gold-standard subjects; media with people are refused where the project hides
    people. A subject the set holds already is left as it is (the project's managers)."""
    principal.require_user()
    s = await service.find_set(session, subject_set_id)
    principal.require(str(s.project_id), "manager", what="subject set")
    service.require_builtin(s)
    media = await subject_media(
        lambda: clients.client("catalogue"), s.project_id, [x.media_ids for x in body.subjects]
    )
    made, already = await service.make_subjects(session, s, media, created_by=principal.subject)
    return SubjectsCreated(created=[SubjectPublic.model_validate(x) for x in made], already=already)


async def _view(store: ObjectStore, s: VolunteerSubject) -> SubjectView:
    return SubjectView(
        id=s.id,
        subject_set_id=s.subject_set_id,
        project_id=s.project_id,
        media=[
            SubjectMediumView(
                media_id=uuid.UUID(m), display_url=await store.url_for_get(display_key(sha))
            )
            for m, sha in zip(s.media_ids, s.sha256s, strict=True)
        ],
        clip_start_s=s.clip_start_s,
        clip_end_s=s.clip_end_s,
    )


@router.get("/subjects/next", response_model=NextSubject)
async def next_subject(
    project_id: uuid.UUID,
    session: SessionDep,
    store: StoreDep,
    clients: ClientsDep,
    settings: CitsciSettingsDep,
    principal: PrincipalDep,
) -> NextSubject:
    """The next subject for the caller in the project: one they have not classified, now and
    then a gold-standard one; its media as signed URLs of their GPS-free display copies, and
    nothing about where they were taken; never one showing people where the project hides
    them. ``subject`` is null when none waits (the project's volunteers)."""
    principal.require_user()
    principal.require(str(project_id), "volunteer")
    catalogue = lambda: clients.client("catalogue")  # noqa: E731
    # People labelled since a subject was made, or hidden since: checked as it is served
    # (the observations.changed consumer withdraws most before), withdrawn when found.
    hidden = await hides_people(catalogue, project_id)
    for _ in range(PEOPLE_CHECKS):
        s = await service.next_subject(
            session, project_id, principal.subject, settings.volunteers.gold_standard_rate
        )
        if s is None or not hidden or not await any_shows_people(catalogue, s.media_ids):
            return NextSubject(subject=await _view(store, s) if s is not None else None)
        await service.withdraw(session, [s])
    return NextSubject(subject=None)


@router.post(
    "/subjects/{subject_id}/classifications",
    status_code=201,
    response_model=ClassificationPublic,
    responses={409: error_response("The caller classified the subject already, or it retired")},
)
async def classify(
    subject_id: uuid.UUID,
    body: ClassificationCreate,
    session: SessionDep,
    bus: BusDep,
    clients: ClientsDep,
    settings: CitsciSettingsDep,
    principal: PrincipalDep,
) -> ClassificationPublic:
    """Classify a subject: the taxa seen (from the project's list of taxa, where it keeps
    one) with their counts and behaviours, or nothing here, and boxes if drawn; once per
    volunteer. The classification that meets the set's retirement rules retires the subject
    and publishes the volunteers' consensus (the project's volunteers)."""
    principal.require_user()
    s = await service.subject(session, subject_id)
    principal.require(str(s.project_id), "volunteer", what="subject")
    expected = (
        await project_taxa(lambda: clients.client("catalogue"), s.project_id) if body.taxa else {}
    )
    done = await service.classify(
        session,
        bus,
        subject_id,
        principal.subject,
        body,
        expected,
        skill_window=settings.volunteers.dawid_skene_window,
    )
    c = done.classification
    return ClassificationPublic(
        id=c.id,
        subject_id=c.subject_id,
        nothing_here=c.nothing_here,
        taxa=[TaxonVote.model_validate(t) for t in c.taxa],
        boxes=[BoxIn.model_validate(b) for b in c.boxes],
        created_at=c.created_at,
        retired=done.retired,
        subject_state=done.subject.state,
    )


@router.get("/volunteers/me/stats", response_model=VolunteerStats)
async def my_stats(
    project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> VolunteerStats:
    """The caller's own classifications in the project and how often they agreed with the
    consensus of subjects that retired and with the expert on gold-standard ones (the
    project's volunteers)."""
    principal.require_user()
    principal.require(str(project_id), "volunteer")
    st = await service.stats(session, project_id, principal.subject)
    return VolunteerStats(
        project_id=project_id,
        classifications=st.classifications,
        retired_classified=st.retired_classified,
        agreed_with_consensus=st.agreed,
        agreement=st.agreed / st.retired_classified if st.retired_classified else None,
        gold_classified=st.gold_classified,
        gold_correct=st.gold_correct,
        gold_accuracy=st.gold_correct / st.gold_classified if st.gold_classified else None,
    )


@router.get("/projects/{project_id}/progress", response_model=ProjectProgress)
async def project_progress(
    project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ProjectProgress:
    """The project's built-in subjects waiting, retired and gold standard, and the
    classifications volunteers gave them (the project's volunteers)."""
    principal.require_user()
    principal.require(str(project_id), "volunteer")
    p = await service.progress(session, project_id)
    return ProjectProgress(
        project_id=project_id,
        subjects_active=p.active,
        subjects_retired=p.retired,
        subjects_gold=p.gold,
        classifications=p.classifications,
        volunteers=p.volunteers,
    )


@router.post(
    "/projects/{project_id}/join",
    response_model=JoinedProject,
    responses={403: error_response("The project is not open to volunteers")},
)
async def join_as_volunteer(
    project_id: uuid.UUID,
    clients: ClientsDep,
    principal: PrincipalDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> JoinedProject:
    """Join a project open to volunteers as one of its volunteers (the catalogue keeps the
    membership; a member with a higher role keeps it, and joining again changes nothing).
    Answers a token that carries the role, for the volunteer routes (anyone signed in)."""
    principal.require_user()
    assert credentials is not None  # PrincipalDep refused a request without one
    joined = await join_project(
        lambda: clients.client("catalogue"), project_id, credentials.credentials
    )
    return JoinedProject.model_validate(joined)
