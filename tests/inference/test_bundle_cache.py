"""A promoted bundle comes from object storage into the replica's disk cache whole: the
model, its manifest and, for a classifier that ships one, its regional species rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE, BundleError, load_bundle
from wildlens.common.storage.local import LocalStore
from wildlens.inference.models.cache import BundleCache
from wildlens.inference.taxonomy.geofence import GEOFENCE_FILE

RULES = {"Egretta garzetta": {"allow": ["FR"]}}


async def _publish(store: LocalStore, prefix: str, bundle: Path, *, rules: bool) -> None:
    for name in (MANIFEST_FILE, MODEL_FILE):
        await store.put_file(f"{prefix}/{name}", bundle / name, "application/octet-stream")
    if rules:
        await store.put_bytes(
            f"{prefix}/{GEOFENCE_FILE}", json.dumps(RULES).encode(), "application/json"
        )


async def test_the_regional_rules_travel_with_the_bundle(
    tmp_path: Path, tiny_detector: Path
) -> None:
    store = LocalStore(tmp_path / "objects", public_url="http://x", signing_key=b"k")
    await store.start()
    sha = load_bundle(tiny_detector).manifest.sha256
    await _publish(store, "models/with-rules/1", tiny_detector, rules=True)
    await _publish(store, "models/plain/1", tiny_detector, rules=False)
    cache = BundleCache(tmp_path / "cache", store)

    with_rules = await cache.fetch("models/with-rules/1", sha)
    assert json.loads((with_rules.root / GEOFENCE_FILE).read_text()) == RULES
    plain = await cache.fetch("models/plain/1", sha)
    assert not (plain.root / GEOFENCE_FILE).exists()
    assert plain.onnx_path.read_bytes() == (tiny_detector / MODEL_FILE).read_bytes()

    with pytest.raises(BundleError, match="SHA-256"):
        await cache.fetch("models/plain/1", "0" * 64)
    await store.close()
