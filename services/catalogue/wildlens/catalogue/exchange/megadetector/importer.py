"""MegaDetector batch output (format 1.6) onto media already in the catalogue.

Each result's ``file`` is matched to a medium of the project by its recorded path, else by
its file name when exactly one medium has that name. The results are stored as the platform
stores its own detector's: one model run per medium and detector (``info.detector``, with
``detector_metadata.megadetector_version`` as its version), and a machine observation per
detection with the top classification as its taxon; the file's ``info`` is kept with each run
for the export. Importing the same results again changes nothing (a model run is unique per
medium and model version); every problem, an unmatched file included, refuses the whole file.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.camtrapdp.importer import ImportSummary
from wildlens.catalogue.exchange.columns import column_length
from wildlens.catalogue.exchange.problems import Problems
from wildlens.catalogue.media.analysis import OBSERVATION_TYPES
from wildlens.catalogue.media.uncertainty import TOP_K, entropy, margin
from wildlens.catalogue.models import Media, ModelRun, Observation, Project, RankedClassifications
from wildlens.catalogue.sequences.importing import group_imported
from wildlens.catalogue.taxa.names import NameLinker
from wildlens.catalogue.taxa.resolution import NameResolver
from wildlens.common.db import utcnow
from wildlens.common.errors import Invalid
from wildlens.common.importing import cell_problem, json_text_problems, parse_json
from wildlens.common.offload import StopFlag, run_stoppable
from wildlens.common.settings import LimitSettings

__all__ = ["import_batch_results", "model_identity"]

_CATEGORY_ID = re.compile(r"^\d+$")
# A classification category's name becomes an observation's scientific name.
_NAME_CHARS = column_length(Observation, "scientific_name")
_SLACK = 1e-6


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def model_identity(info: dict[str, Any]) -> tuple[str, str]:
    """(name, version) of the detector that made a results file."""
    name = str(info.get("detector") or "megadetector")
    metadata = info.get("detector_metadata")
    version = ""
    if isinstance(metadata, dict):
        version = str(metadata.get("megadetector_version") or metadata.get("version") or "")
    return name[:200], version[:100]


def _completion_time(info: dict[str, Any]) -> datetime:
    text = info.get("detection_completion_time")
    if isinstance(text, str):
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            pass
    return utcnow()


def _read(stop: StopFlag, data: bytes, limits: LimitSettings) -> tuple[dict[str, Any], Problems]:
    """The file parsed off the event loop, with the strings in it that are unfit to store (its
    ``info`` is kept with each model run)."""
    document = parse_json(data, "the MegaDetector file", limits)
    if not isinstance(document, dict):
        raise Invalid("the MegaDetector file is not a JSON object")
    problems = Problems("MegaDetector batch output")
    for where, message in json_text_problems(document, "the MegaDetector file", limits, stop):
        section = str(where[0]) if where else "file"
        row = where[1] if len(where) > 1 and isinstance(where[1], int) else None
        rest = where[2:] if row is not None else where[1:]
        problems.add(section, message, row=row, field=".".join(str(p) for p in rest) or None)
    return document, problems


def _category_map(
    document: dict[str, Any], section: str, problems: Problems, *, required: bool
) -> dict[str, str]:
    value = document.get(section)
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        problems.add(section, f"'{section}' must be an object of id → name")
        return {}
    names: dict[str, str] = {}
    for ident, name in value.items():
        if not _CATEGORY_ID.match(str(ident)):
            problems.add(section, f"category id {ident!r} is not a non-negative whole number")
        elif not isinstance(name, str) or not name.strip():
            problems.add(section, f"category {ident} has no name", field=str(ident))
        elif (problem := cell_problem(name, _NAME_CHARS)) is not None:
            problems.add(section, f"category {ident}'s name {problem}", field=str(ident))
        else:
            names[str(ident)] = name
    return names


def _check_detection(
    n: int,
    d: int,
    detection: Any,
    detection_categories: dict[str, str],
    classification_categories: dict[str, str],
    problems: Problems,
) -> None:
    where = f"detections[{d}]"
    if not isinstance(detection, dict):
        problems.add("images", "not an object", row=n, field=where)
        return
    if str(detection.get("category")) not in detection_categories:
        problems.add(
            "images",
            f"category {detection.get('category')!r} is not in detection_categories",
            row=n,
            field=f"{where}.category",
        )
    conf = _number(detection.get("conf"))
    if conf is None or not 0 <= conf <= 1:
        problems.add("images", "conf must be between 0 and 1", row=n, field=f"{where}.conf")
    box = detection.get("bbox")
    numbers = [_number(v) for v in box] if isinstance(box, list) else []
    if len(numbers) != 4 or None in numbers:
        problems.add("images", "bbox must be [x, y, width, height]", row=n, field=f"{where}.bbox")
    else:
        x, y, w, h = (v or 0.0 for v in numbers)
        if min(x, y, w, h) < 0 or x + w > 1 + _SLACK or y + h > 1 + _SLACK:
            problems.add(
                "images",
                f"bbox {box} is not relative to the image (fractions from 0 to 1)",
                row=n,
                field=f"{where}.bbox",
            )
    classifications = detection.get("classifications", [])
    if not isinstance(classifications, list):
        problems.add(
            "images", "classifications must be a list", row=n, field=f"{where}.classifications"
        )
        return
    last = 1.0
    for c, pair in enumerate(classifications):
        field = f"{where}.classifications[{c}]"
        if not (isinstance(pair, list) and len(pair) == 2):
            problems.add("images", "a classification is [category, conf]", row=n, field=field)
            continue
        if str(pair[0]) not in classification_categories:
            problems.add(
                "images",
                f"category {pair[0]!r} is not in classification_categories",
                row=n,
                field=field,
            )
        score = _number(pair[1])
        if score is None or not 0 <= score <= 1:
            problems.add("images", "conf must be between 0 and 1", row=n, field=field)
        elif score > last + _SLACK:
            problems.add("images", "classifications must be by descending conf", row=n, field=field)
        else:
            last = score


class _MediaIndex:
    """The project's media by recorded path and by file name."""

    def __init__(self, media: list[Media]) -> None:
        self.by_path: dict[str, Media] = {}
        self.by_name: dict[str, list[Media]] = defaultdict(list)
        for m in media:
            for path in (m.file_path, m.filename):
                if path:
                    self.by_path.setdefault(_normal(path), m)
            name = m.filename or PurePosixPath(_normal(m.file_path)).name
            if name:
                self.by_name[name].append(m)

    def find(self, file: str) -> tuple[Media | None, str]:
        path = _normal(file)
        if path in self.by_path:
            return self.by_path[path], ""
        candidates = self.by_name.get(PurePosixPath(path).name, [])
        if len(candidates) == 1:
            return candidates[0], ""
        if candidates:
            return None, f"{len(candidates)} media are named {PurePosixPath(path).name!r}"
        return None, "no medium of the project has this path or file name"


def _normal(path: str) -> str:
    return path.replace("\\", "/").lstrip("./")


async def _candidates(session: AsyncSession, project: Project, files: list[str]) -> list[Media]:
    """The project's media a results file may mean: those recorded under one of its paths or
    with one of its file names (not the whole project: results usually cover one card)."""
    paths = sorted({p for f in files for p in (f, _normal(f))})
    names = sorted({PurePosixPath(_normal(f)).name for f in files})
    return await repository.media_with_paths_or_names(session, project.id, paths, names)


async def import_batch_results(
    session: AsyncSession,
    project: Project,
    data: bytes,
    limits: LimitSettings,
    *,
    resolver: NameResolver | None = None,
) -> ImportSummary:
    """Attach the MegaDetector results in ``data`` to ``project``'s media (in ``session``);
    names nothing else knows are asked of ``resolver``, the platform's online checklist."""
    document, problems = await run_stoppable(_read, data, limits)
    info = document.get("info")
    if not isinstance(info, dict):
        problems.add("info", "'info' must be an object")
        info = {}
    version = info.get("format_version")
    try:
        float(str(version))
    except ValueError:
        problems.add(
            "info", "format_version must be a number written as text", field="format_version"
        )
    detection_categories = _category_map(document, "detection_categories", problems, required=True)
    classification_categories = _category_map(
        document, "classification_categories", problems, required=False
    )
    images = document.get("images")
    if not isinstance(images, list):
        problems.add("images", "'images' must be a list")
        images = []

    files = [i["file"] for i in images if isinstance(i, dict) and isinstance(i.get("file"), str)]
    index = _MediaIndex(await _candidates(session, project, files))
    matched: dict[int, Media] = {}
    claimed: dict[str, int] = {}
    for n, image in enumerate(images):
        if not isinstance(image, dict) or not isinstance(image.get("file"), str):
            problems.add("images", "each image needs its 'file'", row=n, field="file")
            continue
        found, why = index.find(image["file"])
        if found is None:
            problems.add("images", f"{image['file']!r}: {why}", row=n, field="file")
        elif str(found.id) in claimed:
            problems.add(
                "images",
                f"{image['file']!r} is the same medium as image {claimed[str(found.id)]}",
                row=n,
                field="file",
            )
        else:
            matched[n] = found
            claimed[str(found.id)] = n
        failure = image.get("failure")
        detections = image.get("detections")
        if failure is not None and not isinstance(failure, str):
            problems.add("images", "failure must be text", row=n, field="failure")
        if failure is None and not isinstance(detections, list):
            problems.add(
                "images", "a processed image needs a detections list", row=n, field="detections"
            )
        for d, detection in enumerate(detections if isinstance(detections, list) else []):
            _check_detection(
                n, d, detection, detection_categories, classification_categories, problems
            )
    problems.raise_if_any()

    name, model_version = model_identity(info)
    analyzed_at = _completion_time(info)
    classifier = str(info.get("classifier") or "")[:200]
    metadata = (
        info.get("detector_metadata") if isinstance(info.get("detector_metadata"), dict) else {}
    )
    threshold = _number(metadata.get("typical_detection_threshold")) if metadata else None
    # Media this model version has results for already: a model run is unique per medium and
    # model version, so those are left as they are.
    done = await repository.media_with_results(
        session, [m.id for m in matched.values()], name, model_version
    )
    created: Counter[str] = Counter()
    unchanged: Counter[str] = Counter()
    classified_by = f"{name}@{model_version}" if model_version else name
    rankings: list[RankedClassifications] = []
    runs: list[tuple[dict[str, Any], Media, ModelRun]] = []
    for n, medium in matched.items():
        image = images[n]
        if medium.id in done:
            unchanged["model_runs"] += 1
            continue
        failure = image.get("failure") or ""
        run = ModelRun(
            media_id=medium.id,
            model_name=name,
            model_version=model_version,
            classifier_name=classifier,
            detection_threshold=threshold or 0.0,
            failure=failure,
            analyzed_at=analyzed_at,
            # Kept whole for the export: the format's thresholds and metadata have no
            # columns of their own (format_version is the exporter's to write).
            results_info={k: v for k, v in info.items() if k != "format_version"},
        )
        session.add(run)
        created["model_runs"] += 1
        runs.append((image, medium, run))
    # The runs are written before the observations that refer to them, in one flush each.
    await session.flush()
    # A classification's name is linked to a taxon: the project's first, then the platform's,
    # then the online checklist's.
    names = NameLinker(session, project.id, resolver)
    for image, medium, run in runs:
        failure = run.failure
        for detection in image.get("detections") or []:
            category = detection_categories[str(detection["category"])]
            top = (detection.get("classifications") or [None])[0]
            x, y, w, h = (float(v) for v in detection["bbox"])
            observation = Observation(
                project_id=project.id,
                media_id=medium.id,
                deployment_id=medium.deployment_id,
                model_run_id=run.id,
                observation_type=OBSERVATION_TYPES.get(category, "unknown"),
                category=category[:50],
                confidence=float(detection["conf"]),
                bbox_x=x,
                bbox_y=y,
                bbox_width=w,
                bbox_height=h,
                scientific_name=(classification_categories[str(top[0])][:200] if top else ""),
                classification_method="machine",
                classified_by=classified_by[:300],
                classified_at=analyzed_at,
                classification_timestamp=analyzed_at,
            )
            observation.taxon_id = await names.taxon_id(observation.scientific_name)
            session.add(observation)
            ranked = [
                [classification_categories[str(c)], float(score)]
                for c, score in detection.get("classifications") or []
            ]
            if ranked:
                rankings.append(RankedClassifications(observation_id=observation.id, labels=ranked))
                # The review queue ranks imported results by their uncertainty too.
                best = sorted(ranked, key=lambda r: -float(r[1]))[:TOP_K]
                observation.top_labels = [
                    {"label": name, "scientific_name": name, "probability": score}
                    for name, score in best
                ]
                probabilities = [float(score) for _, score in best]
                observation.classification_entropy = entropy(probabilities)
                observation.classification_margin = margin(probabilities)
            created["observations"] += 1
        if not failure:
            medium.status = "analyzed"
            if medium.analyzed_at is None or medium.analyzed_at < analyzed_at:
                medium.analyzed_at = analyzed_at
            session.add(medium)
    # After the observations they refer to are written.
    await session.flush()
    session.add_all(rankings)
    await session.flush()
    # MegaDetector names no sequences: results on media that are in no event yet (recorded
    # before imports formed events) chain their deployments into events by the project's gap.
    ungrouped = {
        m.deployment_id
        for m in matched.values()
        if m.deployment_id is not None and m.captured_at is not None and m.event_id is None
    }
    for deployment_id in sorted(ungrouped):
        await group_imported(session, project.id, deployment_id, {})
    return ImportSummary(
        created=dict(created), updated={}, unchanged=dict(unchanged), media_files_stored=0
    )
