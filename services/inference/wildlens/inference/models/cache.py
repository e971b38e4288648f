"""Model bundles from object storage, kept on local disk.

A promoted bundle lives in object storage under ``models/<name>/<version>/`` (``model.onnx``
and ``wildlens-model.json``). Each replica downloads it once into its cache folder, in a folder
named after the bundle's key and the SHA-256 it was promised (two versions may share their
weights but not their manifest), checks the ONNX file against that hash and against the manifest
(``load_bundle``), and only then moves it into place, so the cache never holds a bundle that
was not checked. A cached copy that no longer checks out is removed and downloaded once more;
a second failure is the bundle's fault and is reported as such.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import shutil
import tempfile
from pathlib import Path

import structlog

from wildlens.common.bundles import (
    FEATURES_FILE,
    GEOFENCE_FILE,
    MANIFEST_FILE,
    MODEL_FILE,
    Bundle,
    BundleError,
    file_sha256,
    load_bundle,
    parse_manifest,
)
from wildlens.common.errors import NotFound
from wildlens.common.storage import ObjectStore

__all__ = ["BundleCache"]

log = structlog.get_logger(__name__)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BundleCache:
    """Args:
    root: the cache folder; created when missing.
    store: the object store the bundles are in.
    """

    def __init__(self, root: Path, store: ObjectStore) -> None:
        self.root = Path(root)
        self._store = store
        self._locks: dict[str, asyncio.Lock] = {}

    async def fetch(self, bundle_key: str, sha256: str) -> Bundle:
        """The checked bundle stored under ``bundle_key`` whose ONNX file has ``sha256``.

        Raises:
            BundleError: the bundle is missing, incomplete, or does not match the hash (twice).
        """
        sha256 = sha256.lower()
        if not _SHA256.fullmatch(sha256):
            raise BundleError(f"{sha256!r} is not a SHA-256 hex digest")
        prefix = bundle_key.rstrip("/")
        name = hashlib.sha256(f"{prefix}\n{sha256}".encode()).hexdigest()[:32]
        # Two promotions of one bundle arriving together download it once.
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            target = self.root / name
            if target.is_dir():
                try:
                    return await asyncio.to_thread(_checked, target, sha256)
                except BundleError as exc:
                    log.warning("inference.cached_bundle_invalid", path=str(target), error=str(exc))
                    await asyncio.to_thread(shutil.rmtree, target, True)
            return await self._download(prefix, sha256, target)

    async def _download(self, prefix: str, sha256: str, target: Path) -> Bundle:
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".download-"))
        try:
            for name in (MANIFEST_FILE, MODEL_FILE):
                try:
                    await self._store.download_to(f"{prefix}/{name}", staging / name)
                except NotFound as exc:
                    raise BundleError(
                        f"model bundle {prefix}/ in object storage has no {name}"
                    ) from exc
            # A classifier may ship its regional species rules beside the model.
            with contextlib.suppress(NotFound):
                await self._store.download_to(f"{prefix}/{GEOFENCE_FILE}", staging / GEOFENCE_FILE)
            # And the tree model that combines its scores with objects' features (the
            # manifest names it; its hash is checked with the rest).
            manifest = parse_manifest((staging / MANIFEST_FILE).read_bytes(), f"of {prefix}/")
            if manifest.features is not None:
                with contextlib.suppress(NotFound):
                    await self._store.download_to(
                        f"{prefix}/{FEATURES_FILE}", staging / FEATURES_FILE
                    )
            bundle = await asyncio.to_thread(_checked, staging, sha256)
            await asyncio.to_thread(staging.rename, target)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, staging, True)
            raise
        log.info("inference.bundle_cached", key=prefix, sha256=sha256, path=str(target))
        return Bundle(manifest=bundle.manifest, onnx_path=target / MODEL_FILE, root=target)


def _checked(folder: Path, sha256: str) -> Bundle:
    actual = file_sha256(folder / MODEL_FILE) if (folder / MODEL_FILE).is_file() else None
    if actual is not None and actual != sha256:
        raise BundleError(
            f"{MODEL_FILE} of the promoted bundle has SHA-256 {actual}, "
            f"but the promotion says {sha256}"
        )
    # Checks the manifest, the file's presence and its hash against the manifest's.
    return load_bundle(folder)
