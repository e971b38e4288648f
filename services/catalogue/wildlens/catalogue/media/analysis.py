"""``media.analyzed`` → machine observations, once per medium and model version.

Analyses arrive as fast as inference runs, so a whole batch is stored with a fixed number of
statements whatever its size (``repository.analyses``; the consumer's unit of work records the
events as handled in one more): one for the media with the runs already stored, one for the
label map entries and one for the taxa the batch names (a classifier's label resolves through
the project's label map, else its scientific name through the taxon tree), then the events'
smoothing (``events.smoothing``), and, on PostgreSQL, one statement that inserts the runs and
observations and marks the media analysed. Smoothing comes before the insert, the batch's
detections voting as they are about to be stored, so each observation goes in with its event's
label rather than being written twice.

A machine result never touches a person's: each model version's observations are rows of
their own, and the label a medium shows is the human one where there is one
(``observations.current``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.media.repository.analyses import (
    AnalysisRows,
    label_map_taxa,
    media_with_runs,
    taxa_named,
    write_analyses,
)
from wildlens.catalogue.media.uncertainty import entropy, margin, top_labels
from wildlens.catalogue.sequences.smoothing import Pending, Vote, smooth_events, smoothed_label
from wildlens.common.db import utcnow
from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.media_pb2 import Classification, MediaAnalyzed

__all__ = ["MediaNotRecordedYet", "store_analysis"]

# MegaDetector's categories → Camtrap DP's observationType.
OBSERVATION_TYPES = {"animal": "animal", "person": "human", "human": "human", "vehicle": "vehicle"}


class MediaNotRecordedYet(RuntimeError):
    """The analysis overtook the recording; redelivery will find the media."""


@dataclass(frozen=True)
class _Analysis:
    event: MediaAnalyzed
    analyzed_at: datetime
    # Each detection's most probable classification (None without one), found once.
    tops: list[Classification | None]
    # The medium: only the columns the batch needs (whole media rows, with their metadata,
    # cost the consumer more to load than the analyses cost to store).
    media_id: uuid.UUID
    project_id: uuid.UUID
    deployment_id: uuid.UUID | None
    event_id: uuid.UUID | None
    # When an earlier run analysed the medium (None: never).
    previously_analyzed_at: datetime | None
    # Label maps are kept per classifier; a detector that labels species itself (no separate
    # classifier) is its own classifier.
    label_model: str


async def store_analysis(
    session: AsyncSession, envelopes: Sequence[Envelope]
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Store a batch of analyses; (media id, project id) of the media whose analyses were new
    (each once)."""
    if not envelopes:
        return []
    analyses = await _new_analyses(session, envelopes)
    if not analyses:
        return []
    label_taxa = await _label_map(session, analyses)
    name_taxa = await _taxa_by_name(session, analyses, label_taxa)

    rows = AnalysisRows([], [], [])
    # The votes of detections of media in an event, by their position in rows.detections.
    pending: dict[int, Pending] = {}
    now = utcnow()
    for a in analyses:
        event = a.event
        run_id = uuid.uuid4()
        rows.runs.append(
            {
                "id": run_id,
                "media_id": a.media_id,
                "model_name": event.detector.name,
                "model_version": event.detector.version,
                "model_sha256": event.detector.sha256,
                "classifier_name": event.classifier.name,
                "classifier_version": event.classifier.version,
                "detection_threshold": event.detection_threshold,
                "failure": event.failure,
                "timings_ms": dict(event.timings_ms),
                # Only runs imported from a results file have a file's info to keep.
                "results_info": {},
                "analyzed_at": a.analyzed_at,
                "recorded_at": now,
            }
        )
        rows.run_media.append((a.project_id, a.deployment_id))
        run = len(rows.runs)
        for detection, top in zip(event.detections, a.tops, strict=True):
            taxon_id = None
            if top is not None:
                taxon_id = label_taxa.get(
                    (a.project_id, a.label_model, top.label)
                ) or name_taxa.get(top.scientific_name)
            observation_type = OBSERVATION_TYPES.get(detection.category, "unknown")
            name = top.scientific_name if top else ""
            box = detection.bbox
            ranked = top_labels(detection.classifications)
            probabilities = [label["probability"] for label in ranked]
            rows.detections.append(
                (
                    run,
                    observation_type,
                    detection.category,
                    detection.confidence,
                    box.x,
                    box.y,
                    box.width,
                    box.height,
                    name,
                    top.confidence if top else None,
                    taxon_id,
                    ranked,
                    entropy(probabilities),
                    margin(probabilities),
                    # Smoothed below, for media in an event.
                    "",
                    None,
                )
            )
            if a.event_id is not None:
                vote = Vote(
                    a.media_id,
                    "machine",
                    name,
                    taxon_id,
                    detection.confidence,
                    run_id,
                    a.analyzed_at,
                )
                pending[len(rows.detections) - 1] = Pending(
                    a.event_id, observation_type == "animal", vote
                )
    # Smoothed before they are stored (see the module's docstring).
    event_ids = {a.event_id for a in analyses if a.event_id is not None}
    labels = await smooth_events(session, event_ids, pending=list(pending.values()))
    for i, p in pending.items():
        smoothed = smoothed_label(labels.get(p.event_id), p.animal, "machine")
        rows.detections[i] = (*rows.detections[i][:-2], *smoothed)
    analyzed = _analyzed_times(analyses)
    await write_analyses(session, rows, analyzed)
    return list({a.media_id: a.project_id for a in analyses}.items())


async def _new_analyses(session: AsyncSession, envelopes: Sequence[Envelope]) -> list[_Analysis]:
    """The batch's analyses of recorded media that no earlier run of the same model stored."""
    events = [(unpack(e, MediaAnalyzed), e) for e in envelopes]
    media_ids = [uuid.UUID(event.media_id) for event, _ in events]
    ids = set(media_ids)
    # The media and the runs already stored for them, in one round trip.
    rows = await media_with_runs(session, ids)
    media = {row[0]: row[:5] for row in rows}
    missing = ids - set(media)
    if missing:
        # The whole batch comes back; by then the recording has caught up.
        raise MediaNotRecordedYet(f"media {sorted(map(str, missing))} not recorded yet")
    stored = {(m, name, version) for m, *_, name, version in rows if name is not None}
    analyses: list[_Analysis] = []
    for (event, envelope), media_id in zip(events, media_ids, strict=True):
        key = (media_id, event.detector.name, event.detector.version)
        if key in stored:
            continue
        stored.add(key)
        analyzed_at = (
            event.analyzed_at.ToDatetime(tzinfo=UTC)
            if event.HasField("analyzed_at")
            else envelope.occurred_at
        )
        tops = [max(d.classifications, key=_probability, default=None) for d in event.detections]
        _, project_id, deployment_id, event_id, previously = media[media_id]
        analyses.append(
            _Analysis(
                event,
                analyzed_at,
                tops,
                media_id,
                project_id,
                deployment_id,
                event_id,
                previously,
                event.classifier.name or event.detector.name,
            )
        )
    return analyses


def _probability(c: Classification) -> float:
    return float(c.confidence)


def _top_labels(analyses: list[_Analysis]) -> list[tuple[_Analysis, Classification]]:
    return [(a, top) for a in analyses for top in a.tops if top is not None]


async def _label_map(
    session: AsyncSession, analyses: list[_Analysis]
) -> dict[tuple[uuid.UUID, str, str], uuid.UUID]:
    """(project, model, label) → taxon, for the labels the batch uses."""
    keys = {(a.project_id, a.label_model, c.label) for a, c in _top_labels(analyses)}
    if not keys:
        return {}
    return await label_map_taxa(session, keys)


async def _taxa_by_name(
    session: AsyncSession,
    analyses: list[_Analysis],
    mapped: dict[tuple[uuid.UUID, str, str], uuid.UUID],
) -> dict[str, uuid.UUID]:
    """Scientific name → taxon, for the names of labels the label maps leave open."""
    names = {
        c.scientific_name
        for a, c in _top_labels(analyses)
        if c.scientific_name and (a.project_id, a.label_model, c.label) not in mapped
    }
    if not names:
        return {}
    rows = await taxa_named(session, names)
    found: dict[str, uuid.UUID] = {}
    # Homonyms and synonyms share a name: the accepted taxon wins, then the first by id.
    for name, taxon_id, _status, _ in sorted(rows, key=lambda r: (r[2] != "accepted", r[3])):
        found.setdefault(name, taxon_id)
    return found


def _analyzed_times(analyses: list[_Analysis]) -> dict[uuid.UUID, datetime]:
    """Media id → its latest analysis time, for the media a run analysed without failing."""
    latest: dict[uuid.UUID, datetime] = {}
    for a in analyses:
        if a.event.failure:
            continue
        current = latest.get(a.media_id) or a.previously_analyzed_at
        latest[a.media_id] = a.analyzed_at if current is None else max(current, a.analyzed_at)
    return latest
