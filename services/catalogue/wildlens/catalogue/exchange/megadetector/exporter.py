"""A project's machine results as MegaDetector batch output, format 1.6 (``megadetector.json``),
the file Timelapse, AddaxAI and the MegaDetector tools read.

Each analysed medium appears once, with the results of its latest model run and the machine
detections an imported Camtrap DP or COCO file gave it (those belong to no model run; their
category is their observation type, their ``conf`` the source's probability); its ``file``
is the relative path it was recorded with, else its file name. Classifications are the ranked
list an imported results file gave; otherwise, the top label only, with the detection's
confidence. ``info`` is the one an imported results file gave (thresholds and classifier
metadata included), with the detector, its version, threshold and completion time as the
runs in the file hold them.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict
from typing import Any

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.context import ExportContext
from wildlens.catalogue.models import Media, ModelRun, Observation

__all__ = ["FORMAT_VERSION", "write_batch_results"]

FORMAT_VERSION = "1.6"
# MegaDetector's own categories keep their customary ids; others follow.
_STANDARD = {"animal": "1", "person": "2", "vehicle": "3"}
_TYPE_CATEGORY = {"animal": "animal", "human": "person", "vehicle": "vehicle"}
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class _Categories:
    def __init__(self, start: dict[str, str] | None = None) -> None:
        self.ids: dict[str, str] = dict(start or {})

    def id(self, name: str) -> str:
        if name not in self.ids:
            self.ids[name] = str(max((int(i) for i in self.ids.values()), default=-1) + 1)
        return self.ids[name]

    def as_json(self) -> dict[str, str]:
        return {i: name for name, i in sorted(self.ids.items(), key=lambda p: int(p[1]))}


def _file(medium: Media) -> str:
    """The path the results name a medium by: its recorded relative path, else its file name
    (results files name images relative to the folder the tools ran on, not by URL)."""
    if medium.file_path and "://" not in medium.file_path:
        return medium.file_path
    return medium.filename or medium.file_path or str(medium.id)


def _latest_runs(runs: list[ModelRun]) -> dict[uuid.UUID, ModelRun]:
    latest: dict[uuid.UUID, ModelRun] = {}
    for run in runs:
        current = latest.get(run.media_id)
        if current is None or (run.analyzed_at, run.recorded_at) > (
            current.analyzed_at,
            current.recorded_at,
        ):
            latest[run.media_id] = run
    return latest


async def write_batch_results(ctx: ExportContext) -> None:
    session, pid = ctx.session, ctx.project.id
    media = {m.id: m for m in await repository.media_by_capture_time(session, pid)}
    runs = _latest_runs(await repository.runs_of_media(session, list(media)) if media else [])
    await ctx.progress(0.3)
    observations: dict[uuid.UUID, list[Observation]] = defaultdict(list)
    run_ids = [r.id for r in runs.values()]
    if run_ids:
        for o in await repository.observations_of_runs(session, run_ids):
            assert o.model_run_id is not None
            observations[o.model_run_id].append(o)
    ranked = await repository.ranked_labels(session, pid)
    await ctx.progress(0.6)

    loose: dict[uuid.UUID, list[Observation]] = defaultdict(list)
    for o in await repository.machine_boxes_without_run(session, pid):
        assert o.media_id is not None
        loose[o.media_id].append(o)

    detection_categories = _Categories(_STANDARD)
    classification_categories = _Categories()

    def detection(o: Observation, box: list[float], category: str) -> dict[str, Any]:
        found: dict[str, Any] = {
            "category": detection_categories.id(category),
            "conf": round(o.confidence or 0.0, 6),
            "bbox": [round(v, 6) for v in box],
        }
        labels = ranked.get(o.id)
        if labels is None and o.scientific_name:
            labels = [[o.scientific_name, o.confidence or 0.0]]
        if labels:
            found["classifications"] = [
                [classification_categories.id(str(label)), round(float(score), 6)]
                for label, score in labels
            ]
        return found

    images: list[dict[str, Any]] = []
    for media_id, medium in media.items():
        if not ctx.coordinates.shows(media_id):
            # Media the export hides (people, in a public export) are left out, as every
            # exporter leaves them.
            continue
        run = runs.get(media_id)
        imported = loose.get(media_id, [])
        if run is None and not imported:
            continue
        image: dict[str, Any] = {"file": _file(medium)}
        if run is not None and run.failure and not imported:
            image["failure"] = run.failure
            image["detections"] = None
            images.append(image)
            continue
        detections = []
        for o in observations.get(run.id, []) if run is not None and not run.failure else []:
            if (box := o.bbox) is not None:
                name = o.category or _TYPE_CATEGORY.get(o.observation_type, o.observation_type)
                detections.append(detection(o, box, name))
        for o in imported:
            # Imported rows name their taxon as category; the detector's class is the type.
            if (box := o.bbox) is not None:
                name = _TYPE_CATEGORY.get(o.observation_type, o.observation_type or "unknown")
                detections.append(detection(o, box, name))
        image["detections"] = detections
        images.append(image)

    images.sort(key=lambda i: str(i["file"]))
    (ctx.folder / "megadetector.json").write_text(
        json.dumps(
            _document(list(runs.values()), detection_categories, classification_categories, images),
            indent=1,
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )


def _info(chosen: list[ModelRun]) -> dict[str, Any]:
    """The file's ``info``: an imported file's own, under what the chosen runs say of the
    detector (the one most of them used), its version, threshold and latest completion."""
    info: dict[str, Any] = {"format_version": FORMAT_VERSION}
    if not chosen:
        return info
    detectors = Counter(run.model_name for run in chosen)
    detector = detectors.most_common(1)[0][0]
    latest = max((r for r in chosen if r.model_name == detector), key=lambda r: r.analyzed_at)
    info.update({k: v for k, v in (latest.results_info or {}).items() if k != "format_version"})
    versions = Counter(run.model_version for run in chosen if run.model_version)
    classifiers = Counter(run.classifier_name for run in chosen if run.classifier_name)
    thresholds = Counter(run.detection_threshold for run in chosen if run.detection_threshold)
    info["detector"] = detector
    info["detection_completion_time"] = max(r.analyzed_at for r in chosen).strftime(_TIME_FORMAT)
    metadata = info.get("detector_metadata")
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    if versions:
        metadata["megadetector_version"] = versions.most_common(1)[0][0]
    if thresholds:
        metadata["typical_detection_threshold"] = thresholds.most_common(1)[0][0]
    info["detector_metadata"] = metadata
    if classifiers:
        info["classifier"] = classifiers.most_common(1)[0][0]
    return info


def _document(
    chosen: list[ModelRun],
    detection_categories: _Categories,
    classification_categories: _Categories,
    images: list[dict[str, Any]],
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "info": _info(chosen),
        "detection_categories": detection_categories.as_json(),
    }
    if classification_categories.ids:
        document["classification_categories"] = classification_categories.as_json()
    document["images"] = images
    return document
