"""A bundle as ``POST /v1/models`` receives it: the ONNX file streamed to a temporary file
while it is hashed and measured, and the manifest, both checked before anything is stored."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from fastapi import UploadFile

from wildlens.common.bundles import (
    MANIFEST_FILE,
    MODEL_FILE,
    BundleError,
    ModelManifest,
    check_onnx_file,
    parse_manifest,
)
from wildlens.common.errors import FieldError, Invalid, PayloadTooLarge

__all__ = ["ReceivedBundle", "received_bundle"]

_CHUNK = 1 << 20
# A name and a version become one folder each in object storage (models/<name>/<version>/).
_KEY_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True)
class ReceivedBundle:
    manifest: ModelManifest
    onnx_path: Path
    manifest_path: Path
    size: int


def _field_error(part: str, message: str) -> list[FieldError]:
    return [FieldError(location=["body", part], message=message, type="value_error")]


async def _save(upload: UploadFile, path: Path, limit: int, part: str) -> tuple[int, str]:
    """Copy an uploaded part to ``path``; its size and SHA-256. Refuses one over ``limit``."""
    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as out:
        while chunk := await upload.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(
                    f"{part} is larger than this platform accepts ({limit} bytes)"
                )
            digest.update(chunk)
            await asyncio.to_thread(out.write, chunk)
    if size == 0:
        raise Invalid(f"{part} is empty", fields=_field_error(part, "empty file"))
    return size, digest.hexdigest()


def _check_names(manifest: ModelManifest) -> None:
    for field, value in (("name", manifest.name), ("version", manifest.version)):
        if not _KEY_PART.fullmatch(value) or ".." in value:
            raise BundleError(
                f"{MANIFEST_FILE}: {field} {value!r} must start with a letter or digit and hold "
                "only letters, digits and . _ - (at most 100): it names a folder in storage",
                fields=[
                    FieldError(
                        location=["file", MANIFEST_FILE, field],
                        message="letters, digits and . _ - only",
                        type="value_error",
                    )
                ],
            )


@contextlib.asynccontextmanager
async def received_bundle(
    model: UploadFile, manifest: UploadFile, *, max_model_bytes: int, max_manifest_bytes: int
) -> AsyncIterator[ReceivedBundle]:
    """The checked bundle in a temporary folder, removed when the block ends.

    Raises:
        PayloadTooLarge: a part is larger than allowed.
        Invalid: a part is empty; the manifest is not JSON or breaks the schema (``BundleError``,
            with the manifest's field errors); the ONNX file is not a whole ONNX model, or its
            SHA-256 is not the one the manifest gives.
    """
    with tempfile.TemporaryDirectory(prefix="wildlens-bundle-") as folder:
        root = Path(folder)
        manifest_path, onnx_path = root / MANIFEST_FILE, root / MODEL_FILE
        await _save(manifest, manifest_path, max_manifest_bytes, "manifest")
        parsed = parse_manifest(await asyncio.to_thread(manifest_path.read_bytes))
        _check_names(parsed)
        size, sha256 = await _save(model, onnx_path, max_model_bytes, "model")
        await asyncio.to_thread(check_onnx_file, onnx_path)
        if sha256 != parsed.sha256:
            raise BundleError(
                f"{MODEL_FILE} does not match its manifest: its SHA-256 is {sha256}, "
                f"the manifest says {parsed.sha256}",
                fields=[
                    FieldError(
                        location=["file", MANIFEST_FILE, "sha256"],
                        message="not the SHA-256 of the model sent",
                        type="value_error",
                    )
                ],
            )
        yield ReceivedBundle(parsed, onnx_path, manifest_path, size)
