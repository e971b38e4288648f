"""Uploaded files as the importers take them: whole files within a size limit, and a package
(a zip, or its files one by one) laid out in a folder, refusing names that would leave it."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from fastapi import UploadFile

from wildlens.common.errors import Invalid, PayloadTooLarge

__all__ = ["read_whole", "save_package"]

_CHUNK = 1 << 20
# What a zip may unpack to: a package with its images is large, a zip bomb larger.
MAX_UNPACKED_BYTES = 64 << 30
# A JSON or CSV file to import is read whole; past this it is not the file it claims to be.
MAX_FILE_BYTES = 512 << 20


def _relative(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise Invalid(f"refusing a file named {name!r} in the package")
    return path


def _unpack(archive: Path, folder: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
                raise PayloadTooLarge("the package unpacks to more than the import limit")
            for member in members:
                target = folder / _relative(member.filename)
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, _CHUNK)
    except zipfile.BadZipFile as error:
        raise Invalid(f"the upload is not a zip file: {error}") from error
    # A package zipped with its folder: the descriptor is one level down.
    if not (folder / "datapackage.json").exists():
        found = sorted(folder.glob("*/datapackage.json"))
        if len(found) == 1:
            for child in list(found[0].parent.iterdir()):
                child.rename(folder / child.name)


async def save_package(files: Sequence[UploadFile], scratch: Path) -> Path:
    """The package's folder inside ``scratch``, with the uploads (zips unpacked) in it."""
    folder = scratch / "package"
    folder.mkdir()
    for upload in files:
        name = upload.filename or "upload"
        target = scratch / "upload.zip" if name.endswith(".zip") else folder / _relative(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as sink:
            while chunk := await upload.read(_CHUNK):
                sink.write(chunk)
        if name.endswith(".zip"):
            _unpack(target, folder)
    return folder


async def read_whole(upload: UploadFile) -> bytes:
    data = await upload.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise PayloadTooLarge(f"{upload.filename or 'the file'} is larger than the import limit")
    return data
