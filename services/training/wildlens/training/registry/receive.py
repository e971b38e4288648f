"""A bundle as the registry receives it: the ONNX file streamed to a temporary file while it
is hashed and measured, and the manifest, both checked before anything is stored. The files
come in the request (``POST /v1/models``) or from where the uploader PUT them in object storage
(an upload's job); the checks are the same."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
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
from wildlens.common.storage import ObjectStore

__all__ = ["ReceivedBundle", "fetched_bundle", "local_bundle", "received_bundle"]

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
    return await _copy(lambda: upload.read(_CHUNK), path, limit, part)


async def _fetch(
    store: ObjectStore, key: str, path: Path, limit: int, part: str
) -> tuple[int, str]:
    """Copy a stored object to ``path`` as it streams from the store; its size and SHA-256."""
    chunks = aiter(store.stream(key, _CHUNK))

    async def read() -> bytes:
        return await anext(chunks, b"")

    try:
        return await _copy(read, path, limit, part)
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]


async def _copy(
    read: Callable[[], Awaitable[bytes]], path: Path, limit: int, part: str
) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as out:
        while chunk := await read():
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


def _only_pixels(manifest: ModelManifest) -> None:
    """A bundle brought from outside is one ONNX file: a features model comes from a
    training job of the platform's own (job kind ``combined``)."""
    if manifest.features is not None:
        raise BundleError(
            f"{MANIFEST_FILE}: features: a bundle sent here is one ONNX file; classifiers that "
            "combine pixels with features are trained here (a training job of kind combined)",
            fields=[
                FieldError(
                    location=["file", MANIFEST_FILE, "features"],
                    message="not accepted in a bundle sent here",
                    type="value_error",
                )
            ],
        )


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


async def _checked(manifest_path: Path, onnx_path: Path, size: int, sha256: str) -> ReceivedBundle:
    """The bundle once its manifest parses, names folders it may, and vouches for the model."""
    parsed = parse_manifest(await asyncio.to_thread(manifest_path.read_bytes))
    # onnxruntime loads the model: seconds of CPU for a large one, off the event loop.
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
    return ReceivedBundle(parsed, onnx_path, manifest_path, size)


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
        # The manifest is checked before the model is read: a bad one costs no model's bytes.
        parsed = parse_manifest(await asyncio.to_thread(manifest_path.read_bytes))
        _check_names(parsed)
        _only_pixels(parsed)
        size, sha256 = await _save(model, onnx_path, max_model_bytes, "model")
        yield await _checked(manifest_path, onnx_path, size, sha256)


@contextlib.asynccontextmanager
async def fetched_bundle(
    store: ObjectStore,
    model_key: str,
    manifest_key: str,
    *,
    max_model_bytes: int,
    max_manifest_bytes: int,
) -> AsyncIterator[ReceivedBundle]:
    """The bundle an uploader PUT under ``model_key`` and ``manifest_key``, read back from the
    store (the bytes as stored, not as announced) and checked as :func:`received_bundle`
    checks; in a temporary folder removed when the block ends.

    Raises:
        ObjectNotFound: a file was never PUT.
        PayloadTooLarge, Invalid: as :func:`received_bundle`.
    """
    with tempfile.TemporaryDirectory(prefix="wildlens-bundle-") as folder:
        root = Path(folder)
        manifest_path, onnx_path = root / MANIFEST_FILE, root / MODEL_FILE
        await _fetch(store, manifest_key, manifest_path, max_manifest_bytes, MANIFEST_FILE)
        parsed = parse_manifest(await asyncio.to_thread(manifest_path.read_bytes))
        _check_names(parsed)
        _only_pixels(parsed)
        size, sha256 = await _fetch(store, model_key, onnx_path, max_model_bytes, MODEL_FILE)
        yield await _checked(manifest_path, onnx_path, size, sha256)


def _measure(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


@contextlib.asynccontextmanager
async def local_bundle(folder: Path) -> AsyncIterator[ReceivedBundle]:
    """A bundle the platform made (a training job's export) in ``folder``, checked as
    :func:`received_bundle` checks a bundle a user brings, in place.

    Raises:
        Invalid: a file is missing or empty, or as :func:`received_bundle`.
    """
    manifest_path, onnx_path = folder / MANIFEST_FILE, folder / MODEL_FILE
    for path in (manifest_path, onnx_path):
        if not path.is_file():
            raise BundleError(f"the exported bundle has no {path.name}")
    _check_names(parse_manifest(await asyncio.to_thread(manifest_path.read_bytes)))
    size, sha256 = await asyncio.to_thread(_measure, onnx_path)
    if size == 0:
        raise BundleError(f"the exported {MODEL_FILE} is empty")
    yield await _checked(manifest_path, onnx_path, size, sha256)
