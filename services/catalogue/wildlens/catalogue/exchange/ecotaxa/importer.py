"""An EcoTaxa TSV bundle into a project, all or nothing.

The bundle is read and checked first (:mod:`.tsv`), then its categories are matched to the
taxonomy (the project's names, the platform's tree, the online checklist): a name the tree
knows is its taxon; one of EcoTaxa's non-taxonomic categories (detritus, artefact, bubble,
temporary ``t0…`` groups) is kept as a morphological category outside the tree; any other
is a problem, unless ``accept_unknown``, when it is imported unlinked and listed in the
summary. With any problem the bundle is refused whole, every problem listed by file, row and
column, and nothing is stored.

Each object becomes a medium of its own (its vignette stored under its content address and
announced to ingest as ``media.imported``, which makes its display copy, as for a Camtrap DP
package's files), with its object row (sample, acquisition, process, depth), its features,
and an observation of its category in its annotation's state: predicted (the machine's),
validated or dubious (the person's, with their name and time). Every object no person
validated is also announced as ``media.recorded`` (with its features) for the serving model's
guess, a machine observation beside the imported one, when its vignette or features are new
or changed. Objects are upserted by
``object_id``: importing the bundle again updates what is there. Objects have no camera
deployment and are never flagged for lacking one; a project that holds nothing else becomes
a project of objects.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.camtrapdp.importer import ImportSummary
from wildlens.catalogue.exchange.ecotaxa.columns import is_morphological, parse_category
from wildlens.catalogue.exchange.ecotaxa.tsv import Bundle, Coordinates, EcoObject, read_bundle
from wildlens.catalogue.models import (
    Acquisition,
    Media,
    ObjectCategory,
    ObjectFeature,
    ObjectRecord,
    Observation,
    Process,
    Project,
    Sample,
)
from wildlens.catalogue.taxa.names import NameLinker
from wildlens.catalogue.taxa.resolution import NameResolver
from wildlens.common.events.v1.media_pb2 import MediaImported, MediaKind, MediaRecorded
from wildlens.common.offload import let_others_run, run_stoppable
from wildlens.common.service import ServiceBus
from wildlens.common.settings import LimitSettings
from wildlens.common.storage import ObjectStore

__all__ = ["ECOTAXA_PREFIX", "VIEWS_PREFIX", "import_ecotaxa"]

# Observations an EcoTaxa import made are found again by this prefix and the object_id.
ECOTAXA_PREFIX = "ecotaxa:"
# Where an object's further images (img_rank above 0) are stored.
VIEWS_PREFIX = "object-views/"
_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png"}


@dataclass(frozen=True)
class _Category:
    taxon_id: uuid.UUID | None
    morphological: bool
    # The name observations carry: the taxon's, or the category's own.
    label: str


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _hashes(stop: object, objects: list[EcoObject]) -> dict[str, tuple[str, int]]:
    return {o.object_id: _sha256(o.image) for o in objects}


def _view_hashes(stop: object, objects: list[EcoObject]) -> dict[Path, tuple[str, int]]:
    return {v.image: _sha256(v.image) for o in objects for v in o.views}


async def _store_views(
    store: ObjectStore, o: EcoObject, hashes: dict[Path, tuple[str, int]]
) -> list[dict[str, Any]]:
    """The object's further images stored by content, as the object keeps them. Under a
    prefix of their own: ingest sweeps a ``media/`` original no medium holds."""
    kept: list[dict[str, Any]] = []
    for view in o.views:
        sha256, size = hashes[view.image]
        key = f"{VIEWS_PREFIX}{sha256[:2]}/{sha256}.{_EXTENSIONS[view.content_type]}"
        await store.put_file(key, view.image, view.content_type)
        kept.append(
            {
                "rank": view.rank,
                "file_name": Path(view.image_name).name[:300],
                "object_key": key,
                "sha256": sha256,
                "content_type": view.content_type,
                "size_bytes": size,
            }
        )
    return kept


async def _categories(
    bundle: Bundle,
    names: NameLinker,
    problems_add: object,
    accept_unknown: bool,
    unmatched: list[str],
) -> dict[str, _Category]:
    """Each category of the bundle matched; the first row naming an unknown one noted."""
    found: dict[str, _Category] = {}
    for o in bundle.objects:
        if not o.category or o.category in found:
            continue
        name, _parent = parse_category(o.category)
        taxon_id = await names.taxon_id(name)
        if taxon_id is not None:
            found[o.category] = _Category(taxon_id, False, name)
        elif is_morphological(o.category):
            found[o.category] = _Category(None, True, name)
        else:
            found[o.category] = _Category(None, False, name)
            if accept_unknown:
                unmatched.append(o.category)
            else:
                problems_add(  # type: ignore[operator]
                    o.file,
                    f"the category {o.category!r} is neither a taxon the platform knows nor "
                    "one of EcoTaxa's non-taxonomic categories (import with accept_unknown "
                    "to keep it unlinked)",
                    row=o.row,
                    field="object_annotation_category",
                )
    return found


async def _groups(
    session: AsyncSession, project: Project, bundle: Bundle, created: Counter[str]
) -> tuple[dict[str, Sample], dict[str, Acquisition], dict[str, Process]]:
    pid = project.id
    samples = await repository.by_external_id(session, Sample, pid, bundle.samples)
    for key, group in bundle.samples.items():
        sample = samples.get(key)
        if sample is None:
            sample = samples[key] = Sample(project_id=pid, external_id=key)
            created["samples"] += 1
        sample.fields = group.fields
        lat, lon = group.fields.get("lat"), group.fields.get("lon")
        sample.latitude = lat if isinstance(lat, float) else None
        sample.longitude = lon if isinstance(lon, float) else None
        if key in bundle.depth_bins:
            # Bins given again replace those the sample had; none given keeps them.
            sample.depth_bins = bundle.depth_bins[key]
        session.add(sample)
    await session.flush()
    acquisitions = await repository.by_external_id(session, Acquisition, pid, bundle.acquisitions)
    for key, group in bundle.acquisitions.items():
        acquisition = acquisitions.get(key)
        if acquisition is None:
            acquisition = acquisitions[key] = Acquisition(project_id=pid, external_id=key)
            created["acquisitions"] += 1
        acquisition.fields = group.fields
        acquisition.sample_id = samples[group.sample].id if group.sample else None
        session.add(acquisition)
    processes = await repository.by_external_id(session, Process, pid, bundle.processes)
    for key, group in bundle.processes.items():
        process = processes.get(key)
        if process is None:
            process = processes[key] = Process(project_id=pid, external_id=key)
            created["processes"] += 1
        process.fields = group.fields
        session.add(process)
    await session.flush()
    return samples, acquisitions, processes


def _observe(observation: Observation, o: EcoObject, category: _Category) -> None:
    """The object's annotation as an observation in its state."""
    observation.observation_type = "unknown" if category.morphological else "animal"
    observation.category = ("morphological" if category.morphological else "animal")[:50]
    observation.scientific_name = category.label[:200]
    observation.taxon_id = category.taxon_id
    observation.classification_timestamp = o.annotated_at
    person = o.person_name[:300]
    if o.status == "predicted":
        observation.classification_method = "machine"
        observation.classified_by = person
        observation.verification_state = "predicted"
        observation.verified_by, observation.verified_at = "", None
    else:
        # A person's sorting: EcoTaxa's validated and dubious are that person's verdicts.
        observation.classification_method = "human"
        observation.classified_by = person
        observation.verification_state = o.status
        observation.verified_by = person
        observation.verified_at = o.annotated_at


def _recorded(media: Media, o: EcoObject) -> MediaRecorded:
    recorded = MediaRecorded(
        media_id=str(media.id),
        project_id=str(media.project_id),
        object_key=media.object_key,
        sha256=media.sha256,
        content_type=media.content_type,
        kind=MediaKind.MEDIA_KIND_IMAGE,
        single_object=True,
        features=o.features,
    )
    if media.captured_at is not None:
        recorded.captured_at.FromDatetime(media.captured_at)
    return recorded


def _wants_a_guess(
    o: EcoObject,
    media: Media,
    new_pixels: set[uuid.UUID],
    features_before: dict[uuid.UUID, dict[str, float]],
    observation: Observation | None,
) -> bool:
    """Whether the object goes to the serving model: one a person validated needs no guess;
    any other (predicted, dubious, uncategorised) does when the model has not seen it as it
    now is (new or changed vignette or features, or a person's validation withdrawn)."""
    if o.status == "validated":
        return False
    return (
        media.id in new_pixels
        or features_before.get(media.id, {}) != o.features
        or (observation is not None and observation.verification_state == "validated")
    )


async def import_ecotaxa(
    session: AsyncSession,
    store: ObjectStore,
    bus: ServiceBus,
    project: Project,
    folder: Path,
    *,
    limits: LimitSettings,
    resolver: NameResolver | None = None,
    coordinates: Coordinates = "decimal",
    clock: tzinfo | None = None,
    accept_unknown: bool = False,
    imported_by: str = "",
) -> ImportSummary:
    """Import the unpacked bundle in ``folder`` into ``project`` (see the module)."""
    bundle, problems = await run_stoppable(read_bundle, folder, limits, coordinates, clock or UTC)
    names = NameLinker(session, project.id, resolver)
    unmatched: list[str] = []
    categories = await _categories(bundle, names, problems.add, accept_unknown, unmatched)
    problems.raise_if_any()

    pid = project.id
    created: Counter[str] = Counter()
    updated: Counter[str] = Counter()
    if not await repository.has_other_media(session, pid):
        # A project of objects alone is one from now on: what is uploaded to it later is
        # classified whole. A camera-trap project keeps its kind, with these objects in it.
        project.media_kind = "objects"
        session.add(project)
    samples, acquisitions, processes = await _groups(session, project, bundle, created)

    known = await repository.object_categories(session, pid)
    category_ids = {o.category: o.category_id for o in bundle.objects if o.category}
    for text, category in categories.items():
        row = known.get(text)
        if row is None:
            row = ObjectCategory(project_id=pid, name=text[:300])
            created["object_categories"] += 1
        row.external_id = category_ids.get(text, "")[:50]
        row.taxon_id, row.morphological = category.taxon_id, category.morphological
        session.add(row)

    hashes = await run_stoppable(_hashes, bundle.objects)
    view_hashes = await run_stoppable(_view_hashes, bundle.objects)
    ids = [o.object_id for o in bundle.objects]
    media_by_id = await repository.by_external_id(session, Media, pid, ids)
    observations = await repository.by_external_id(
        session, Observation, pid, [ECOTAXA_PREFIX + i for i in ids]
    )
    brought: list[Media] = []
    # Objects whose vignette is new or changed: the machine's guess must be made again.
    new_pixels: set[uuid.UUID] = set()
    stored = 0
    for number, o in enumerate(bundle.objects):
        await let_others_run(number)
        media = media_by_id.get(o.object_id)
        if media is None:
            media = Media(
                id=uuid.uuid4(), project_id=pid, sha256="", object_key="", content_type=""
            )
            media.external_id = o.object_id[:200]
            created["media"] += 1
        else:
            updated["media"] += 1
        sha256, size = hashes[o.object_id]
        media.content_type = o.content_type
        if not (media.sha256 == sha256 and media.object_key):
            key = f"media/{sha256[:2]}/{sha256}.{_EXTENSIONS[o.content_type]}"
            # Written even where the same bytes are stored already: ingest sweeps an
            # original nothing holds once it is old, and the write makes it new again until
            # ``media.imported`` holds it.
            await store.put_file(key, o.image, o.content_type)
            media.sha256, media.object_key, media.size_bytes = sha256, key, size
            new_pixels.add(media.id)
            stored += 1
        media.kind = "image"
        media.filename = Path(o.image_name).name[:300]
        media.file_path = o.image_name[:1000]
        media.captured_at = o.captured_at
        media.captured_at_source = "ecotaxa" if o.captured_at else "none"
        media.latitude, media.longitude = o.latitude, o.longitude
        media.deployment_id = media.device_id = None
        media.resolution_issue = ""
        media.uploaded_by = imported_by[:200]
        session.add(media)
        brought.append(media)
    await session.flush()
    # An object imported again has the features this bundle gives it, no others.
    features_before = await repository.object_features(session, [m.id for m in brought])
    await repository.drop_features(session, [m.id for m in brought])
    announce: list[tuple[Media, EcoObject]] = []
    records = await repository.object_records(session, [m.id for m in brought])
    for number, o in enumerate(bundle.objects):
        await let_others_run(number)
        media = brought[number]
        record = records.get(media.id)
        if record is None:
            record = ObjectRecord(media_id=media.id, project_id=pid)
            created["objects"] += 1
        record.sample_id = samples[o.sample].id if o.sample else None
        record.acquisition_id = acquisitions[o.acquisition].id if o.acquisition else None
        record.process_id = processes[o.process].id if o.process else None
        record.depth_min, record.depth_max = o.depth_min, o.depth_max
        record.image_rank = o.image_rank
        record.views = await _store_views(store, o, view_hashes)
        stored += len(record.views)
        record.category = o.category[:300]
        record.category_external_id = o.category_id[:50]
        record.annotator_email = o.person_email[:300]
        record.fields = o.fields
        session.add(record)
        for feature, value in o.features.items():
            session.add(
                ObjectFeature(media_id=media.id, name=feature[:100], project_id=pid, value=value)
            )
            created["features"] += 1
        observation = observations.get(ECOTAXA_PREFIX + o.object_id)
        if _wants_a_guess(o, media, new_pixels, features_before, observation):
            announce.append((media, o))
        if not o.category:
            continue
        if observation is None:
            observation = Observation(project_id=pid, observation_type="", category="")
            observation.external_id = ECOTAXA_PREFIX + o.object_id
            created["observations"] += 1
        else:
            updated["observations"] += 1
        observation.media_id = media.id
        observation.deployment_id = None
        observation.model_run_id = None
        _observe(observation, o, categories[o.category])
        session.add(observation)
    await session.flush()
    await bus.stage(
        session,
        [
            MediaImported(
                media_id=str(m.id),
                project_id=str(pid),
                sha256=m.sha256,
                object_key=m.object_key,
                content_type=m.content_type,
                kind=MediaKind.MEDIA_KIND_IMAGE,
            )
            for m in brought
        ],
    )
    # Objects no person settled get the serving model's guess beside their imported label:
    # announced as recorded (single objects, with their features) for inference to classify.
    await bus.stage(session, [_recorded(m, o) for m, o in announce])
    if names.created:
        created["taxa"] += names.created
    return ImportSummary(
        created=dict(created),
        updated=dict(updated),
        media_files_stored=stored,
        unmatched=sorted(set(unmatched)),
    )
