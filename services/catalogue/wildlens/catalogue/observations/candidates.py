"""Candidates for citizen science: the review queue's unverified media, in its order, each
with the parts its score is made of (certainty, entropy, margin, disagreement, rarity, not
analysed, blank) so that a project's selection policy can weigh them, and what a subject
would show with it: the other pictures of its event, or the frames of its video.

Media with people are marked where the project hides people (its privacy setting): they
never leave the platform, and whoever selects leaves them out.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Media, Observation
from wildlens.catalogue.observations import repository
from wildlens.catalogue.observations.review import Explained, explained_queue
from wildlens.catalogue.observations.review_scores import refresh_for_page
from wildlens.catalogue.observations.schemas import CandidateMedium, SelectionCandidate
from wildlens.catalogue.privacy import export_view
from wildlens.common.db import Database
from wildlens.common.http import Page, PageParams

__all__ = ["MAX_GROUP", "candidates_page"]

# Pictures of an event or frames of a video shown with a candidate: as many as a subject
# may hold, the candidate among them.
MAX_GROUP = 20


def _certainty(o: Observation) -> float:
    detector = o.confidence if o.confidence is not None else 1.0
    classifier = o.classification_confidence if o.classification_confidence is not None else 1.0
    return detector * classifier


def _window(members: Sequence[Media], medium: Media) -> list[Media]:
    """At most ``MAX_GROUP`` of ``members`` around ``medium``, in their order; for a clip cut
    from a video, its video's frames from the clip's start on."""
    if medium.kind == "video" and medium.parent_media_id is not None:
        start = next(
            (i for i, m in enumerate(members) if (m.offset_ms or 0) >= (medium.offset_ms or 0)),
            len(members),
        )
        return list(members[start : start + MAX_GROUP])
    if len(members) <= MAX_GROUP:
        return list(members)
    at = next((i for i, m in enumerate(members) if m.id == medium.id), 0)
    start = min(max(at - MAX_GROUP // 2, 0), len(members) - MAX_GROUP)
    return list(members[start : start + MAX_GROUP])


def _group_of(
    medium: Media,
    by_event: dict[uuid.UUID, list[Media]],
    by_video: dict[uuid.UUID, list[Media]],
) -> tuple[str | None, list[Media]]:
    if medium.kind in ("frame", "video") and medium.parent_media_id is not None:
        # A frame, or a clip, cut from a video: shown with the video's frames.
        return "video", by_video.get(medium.parent_media_id, [])
    if medium.kind == "video" and medium.parent_media_id is None:
        return "video", by_video.get(medium.id, [])
    if medium.event_id is not None and len(by_event.get(medium.event_id, [])) > 1:
        return "event", by_event[medium.event_id]
    return None, []


def _candidate(
    e: Explained,
    medium: Media,
    group_kind: str | None,
    group: list[Media],
    hidden: set[uuid.UUID],
) -> SelectionCandidate:
    names = {r.reason for r in e.item.reasons}
    certainties = [_certainty(o) for o in e.current]
    entropies = [
        o.classification_entropy for o in e.current if o.classification_entropy is not None
    ]
    margins = [o.classification_margin for o in e.current if o.classification_margin is not None]
    not_analysed = "not_analysed" in names
    return SelectionCandidate(
        media_id=medium.id,
        kind=medium.kind,
        event_id=medium.event_id,
        parent_media_id=medium.parent_media_id,
        offset_ms=medium.offset_ms,
        captured_at=medium.captured_at,
        score=e.item.score,
        reasons=e.item.reasons,
        scientific_names=e.item.scientific_names,
        lowest_certainty=round(min(certainties), 6) if certainties else None,
        entropy=max(entropies) if entropies else None,
        margin=min(margins) if margins else None,
        rarest_validated=e.rarest_validated,
        volunteers_disagree="volunteer_disagreement" in names,
        models_disagree="model_disagreement" in names,
        not_analysed=not_analysed,
        blank=not not_analysed and all(o.observation_type == "blank" for o in e.current),
        people_hidden=medium.id in hidden,
        group_kind=group_kind,
        group=[
            CandidateMedium(
                media_id=m.id, kind=m.kind, offset_ms=m.offset_ms, people_hidden=m.id in hidden
            )
            for m in _window(group, medium)
        ],
    )


async def candidates_page(
    db: Database, session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> Page[SelectionCandidate]:
    """A page of the project's candidates, in the review queue's order, and the cursor of
    the next."""
    await refresh_for_page(db, project_id)
    explained, next_cursor = await explained_queue(session, project_id, page)
    media = {
        m.id: m
        for m in await repository.media_by_ids(session, [e.item.media_id for e in explained])
    }
    events = {m.event_id for m in media.values() if m.event_id is not None}
    videos = {
        m.parent_media_id or m.id
        for m in media.values()
        if m.kind == "video" or (m.kind == "frame" and m.parent_media_id is not None)
    }
    by_event, by_video = await repository.sibling_media(
        session, project_id, events, {v for v in videos if v is not None}
    )
    groups = {
        e.item.media_id: _group_of(media[e.item.media_id], by_event, by_video)
        for e in explained
        if e.item.media_id in media
    }
    hidden: set[uuid.UUID] = set()
    if (await export_view(session, project_id)).hides_people:
        shown = set(media) | {m.id for _, group in groups.values() for m in group}
        hidden = await repository.media_with_people(session, project_id, shown)
    items = [
        _candidate(e, media[e.item.media_id], *groups[e.item.media_id], hidden)
        for e in explained
        if e.item.media_id in media
    ]
    return Page(items=items, next_cursor=next_cursor)
