"""The export formats: what each writes into the folder that becomes the export's zip."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from wildlens.catalogue.exchange.camtrapdp.exporter import write_package
from wildlens.catalogue.exchange.camtrapdp.validation import validate_descriptor
from wildlens.catalogue.exchange.coco.exporter import write_coco
from wildlens.catalogue.exchange.context import ExportContext
from wildlens.catalogue.exchange.csv.exporter import write_observations
from wildlens.catalogue.exchange.dwca.exporter import write_archive
from wildlens.catalogue.exchange.ecotaxa.exporter import write_bundle
from wildlens.catalogue.exchange.megadetector.exporter import write_batch_results

__all__ = ["EXPORT_FORMATS", "PUBLIC_FORMATS", "ExportFormat", "write_export"]

ExportFormat = Callable[[ExportContext], Awaitable[None]]


async def _camtrap_dp(ctx: ExportContext) -> None:
    await write_package(
        ctx.session, ctx.store, ctx.project, ctx.folder, ctx.progress, ctx.coordinates
    )
    # An export that would not validate is a bug here, not a file to hand out.
    problems = await asyncio.to_thread(validate_descriptor, ctx.folder / "datapackage.json")
    if problems:
        raise ValueError(f"the package does not validate: {problems[:5]}")


EXPORT_FORMATS: dict[str, ExportFormat] = {
    "camtrap-dp": _camtrap_dp,
    "coco": write_coco,
    "megadetector": write_batch_results,
    "dwca": write_archive,
    "csv": write_observations,
    "ecotaxa": write_bundle,
}


# Made for publication (a Darwin Core Archive goes to GBIF, a Camtrap DP package to GBIF or a
# repository): media with people are left out when the project says so. The others are the
# project's own working copies.
PUBLIC_FORMATS = frozenset({"camtrap-dp", "dwca"})


async def write_export(export_format: str, ctx: ExportContext) -> None:
    await EXPORT_FORMATS[export_format](ctx)
