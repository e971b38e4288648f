"""The formats an import job can bring, each a function from the job's files (on disk, under
their declared names) to the import's summary, run in the job's transaction: all or nothing.

The synchronous import routes read the same files from a request; both end in the same
importers. A new format is one function here and a name in ``IMPORT_FORMATS``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange.camtrapdp.importer import ImportSummary, import_package
from wildlens.catalogue.exchange.coco.importer import import_coco
from wildlens.catalogue.exchange.ecotaxa.importer import import_ecotaxa
from wildlens.catalogue.exchange.kso.importer import LABEL_MAP_MODEL, import_kso
from wildlens.catalogue.exchange.kso.tables import kso_table
from wildlens.catalogue.exchange.megadetector.importer import import_batch_results
from wildlens.catalogue.exchange.uploads import read_whole_file, staged_package
from wildlens.catalogue.models import Project
from wildlens.catalogue.models.clock import parse_offset
from wildlens.catalogue.taxa.events import stage_taxonomy_changed
from wildlens.catalogue.taxa.resolution import NameResolver
from wildlens.common.errors import Invalid
from wildlens.common.service import ServiceBus
from wildlens.common.settings import LimitSettings
from wildlens.common.storage import ObjectStore

__all__ = ["IMPORT_FORMATS", "ImportInput", "job_limits", "run_import"]


@dataclass
class ImportInput:
    session: AsyncSession
    store: ObjectStore
    bus: ServiceBus
    project: Project
    # (declared name, local path), in the order they were declared.
    files: list[tuple[str, Path]]
    # A folder of the job's own to unpack into; removed with the job's scratch space.
    scratch: Path
    limits: LimitSettings
    resolver: NameResolver
    actor: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def utc_offset(self) -> str:
        return str(self.options.get("utc_offset") or "+00:00")

    def single(self) -> tuple[str, Path]:
        if len(self.files) != 1:
            raise Invalid(f"this format takes one file, not {len(self.files)}")
        return self.files[0]


ImportFormat = Callable[[ImportInput], Awaitable[ImportSummary]]


def job_limits(limits: LimitSettings) -> LimitSettings:
    """The request's limits with an import job's own for what archives unpack to; the ratio,
    the entry count and the limits on files read whole into memory stay as they are."""
    return limits.model_copy(
        update={
            "unpacked_bytes": limits.import_job_unpacked_bytes,
            "entry_bytes": limits.import_job_entry_bytes,
        }
    )


async def _camtrap_dp(job: ImportInput) -> ImportSummary:
    folder = await staged_package(job.files, job.scratch, job.limits)
    return await import_package(
        job.session,
        job.store,
        job.bus,
        job.project,
        folder,
        resolver=job.resolver,
        limits=job.limits,
    )


async def _coco(job: ImportInput) -> ImportSummary:
    name, path = job.single()
    data = await read_whole_file(name, path, job.limits, "json")
    return await import_coco(
        job.session, job.project, data, job.utc_offset, job.limits, resolver=job.resolver
    )


async def _megadetector(job: ImportInput) -> ImportSummary:
    name, path = job.single()
    data = await read_whole_file(name, path, job.limits, "json")
    return await import_batch_results(
        job.session, job.project, data, job.limits, resolver=job.resolver
    )


async def _kso(job: ImportInput) -> ImportSummary:
    tables: dict[str, bytes] = {}
    for name, path in job.files:
        kind = kso_table(name)
        if kind in tables:
            raise Invalid(f"two {kind} files were sent")
        tables[kind] = await read_whole_file(name, path, job.limits, "csv")
    summary = await import_kso(
        job.session,
        job.project,
        tables,
        job.limits,
        job.utc_offset,
        imported_by=job.actor,
        resolver=job.resolver,
    )
    if summary.created.get("label_map_entries") or summary.updated.get("label_map_entries"):
        # Inference re-reads the project's label map and species list.
        await stage_taxonomy_changed(
            job.bus,
            job.session,
            "kso.imported",
            project_id=job.project.id,
            model_name=LABEL_MAP_MODEL,
        )
    return summary


async def _ecotaxa(job: ImportInput) -> ImportSummary:
    folder = await staged_package(job.files, job.scratch, job.limits)
    return await import_ecotaxa(
        job.session,
        job.store,
        job.bus,
        job.project,
        folder,
        limits=job.limits,
        resolver=job.resolver,
        coordinates="dm" if job.options.get("coordinates") == "dm" else "decimal",
        clock=parse_offset(job.utc_offset),
        accept_unknown=bool(job.options.get("accept_unknown")),
        imported_by=job.actor,
    )


IMPORT_FORMATS: dict[str, ImportFormat] = {
    "camtrap-dp": _camtrap_dp,
    "coco": _coco,
    "megadetector": _megadetector,
    "kso": _kso,
    "ecotaxa": _ecotaxa,
}


async def run_import(import_format: str, job: ImportInput) -> ImportSummary:
    return await IMPORT_FORMATS[import_format](job)
