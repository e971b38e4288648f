"""Uploaded files as the importers take them: whole files within ``WILDLENS_LIMITS__
JSON_FILE_BYTES`` or ``__CSV_FILE_BYTES``, and a package (a zip, or its files one by one) laid
out in a folder within the unpacking limits (see ``archives``), refusing names that would
leave it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from fastapi import UploadFile

from wildlens.catalogue.exchange.archives import (
    JOB_LIMIT_NAMES,
    relative_name,
    size_text,
    unpack_zip,
)
from wildlens.common.errors import Invalid, PayloadTooLarge
from wildlens.common.offload import run_stoppable
from wildlens.common.settings import LimitSettings

__all__ = [
    "FileKind",
    "read_whole",
    "read_whole_file",
    "save_package",
    "staged_package",
    "whole_file_too_large",
]

_CHUNK = 1 << 20


FileKind = Literal["json", "csv"]


def _whole_file_limit(limits: LimitSettings, kind: FileKind) -> int:
    return limits.json_file_bytes if kind == "json" else limits.csv_file_bytes


def whole_file_too_large(name: str, limits: LimitSettings, kind: FileKind) -> PayloadTooLarge:
    limit = _whole_file_limit(limits, kind)
    return PayloadTooLarge(
        f"{name} is larger than {size_text(limit)}, the limit "
        f"WILDLENS_LIMITS__{kind.upper()}_FILE_BYTES sets for a {kind.upper()} file read whole; "
        "nothing was imported"
    )


def _adopt_nested_package(folder: Path) -> None:
    # A package zipped with its folder: the descriptor is one level down.
    if not (folder / "datapackage.json").exists():
        found = sorted(folder.glob("*/datapackage.json"))
        if len(found) == 1:
            for child in list(found[0].parent.iterdir()):
                child.rename(folder / child.name)


async def save_package(files: Sequence[UploadFile], scratch: Path, limits: LimitSettings) -> Path:
    """The package's folder inside ``scratch``, with the uploads (zips unpacked) in it."""
    folder = scratch / "package"
    folder.mkdir()
    written = 0
    zips: list[Path] = []
    for n, upload in enumerate(files):
        name = upload.filename or "upload"
        zipped = name.lower().endswith(".zip")
        if zipped:
            target = scratch / f"upload-{n}.zip"
            zips.append(target)
        else:
            target = folder / relative_name(name)
            target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as sink:
            while chunk := await upload.read(_CHUNK):
                sink.write(chunk)
                # A zip's own size is limited by the upload's; what it unpacks to, below.
                written += 0 if zipped else len(chunk)
        if written > limits.unpacked_bytes:
            raise PayloadTooLarge(
                f"the package's files come to more than {size_text(limits.unpacked_bytes)}, "
                "the limit WILDLENS_LIMITS__UNPACKED_BYTES sets; nothing was imported"
            )
    for archive in zips:
        written = await run_stoppable(unpack_zip, archive, folder, limits, already=written)
        archive.unlink()
    _adopt_nested_package(folder)
    return folder


async def staged_package(
    staged: Sequence[tuple[str, Path]], scratch: Path, limits: LimitSettings
) -> Path:
    """The package's folder inside ``scratch``, made of an import job's files (already on
    disk, under their declared names): zips unpacked within the job's limits, the others
    moved in."""
    folder = scratch / "package"
    folder.mkdir()
    written = 0
    zips: list[Path] = []
    for name, path in staged:
        if name.lower().endswith(".zip"):
            zips.append(path)
            continue
        target = folder / relative_name(name)
        if target.exists():
            raise Invalid(f"the job has two files named {name!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        written += path.stat().st_size
        path.rename(target)
    if written > limits.unpacked_bytes:
        raise PayloadTooLarge(
            f"the package's files come to more than {size_text(limits.unpacked_bytes)}, "
            f"the limit {JOB_LIMIT_NAMES.unpacked} sets; nothing was imported"
        )
    for archive in zips:
        written = await run_stoppable(
            unpack_zip, archive, folder, limits, already=written, names=JOB_LIMIT_NAMES
        )
        archive.unlink()
    _adopt_nested_package(folder)
    return folder


async def read_whole_file(name: str, path: Path, limits: LimitSettings, kind: FileKind) -> bytes:
    """The whole file at ``path`` (an import job's ``name``), refused past its kind's limit."""
    if path.stat().st_size > _whole_file_limit(limits, kind):
        raise whole_file_too_large(name, limits, kind)
    return await asyncio.to_thread(path.read_bytes)


async def read_whole(upload: UploadFile, limits: LimitSettings, kind: FileKind) -> bytes:
    """The whole upload, refused past its kind's limit."""
    limit = _whole_file_limit(limits, kind)
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise whole_file_too_large(upload.filename or "the file", limits, kind)
    return data
