"""The model a candidate would replace, scored on the candidate's own test split.

The champion is the classifier in production for the project, else the global one. Its bundle
is read from the store and run with ONNX Runtime over the test crops exactly as inference
serves it (``wildlens.common.imaging.preprocess`` with its manifest's input, its temperature),
so the report sets the two models side by side on the same images.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE, ModelManifest, as_probabilities
from wildlens.common.imaging import preprocess
from wildlens.common.storage import ObjectStore
from wildlens.training.models import RegisteredModel
from wildlens.training.registry import repository as registry

__all__ = ["Champion", "find_champion", "score_champion"]

_BATCH = 32


@dataclass(frozen=True)
class Champion:
    model_id: uuid.UUID
    name: str
    version: str
    manifest: ModelManifest
    onnx: bytes


async def _serving(session: AsyncSession, project_id: uuid.UUID) -> RegisteredModel | None:
    for scope in (project_id, None):
        models = await registry.serving(session, "classifier", scope)
        if models:
            return max(models, key=lambda m: m.created_at)
    return None


async def find_champion(
    session: AsyncSession, store: ObjectStore, project_id: uuid.UUID
) -> Champion | None:
    """The classifier serving the project now, with its bundle; None where none is."""
    model = await _serving(session, project_id)
    if model is None:
        return None
    manifest = ModelManifest.model_validate_json(
        await store.get_bytes(f"{model.bundle_key}/{MANIFEST_FILE}")
    )
    onnx = await store.get_bytes(f"{model.bundle_key}/{MODEL_FILE}")
    return Champion(model.id, model.name, model.version, manifest, onnx)


def score_champion(
    champion: Champion, crops: Sequence[str], read: Callable[[str], bytes]
) -> np.ndarray:
    """The champion's probabilities ``[len(crops), its labels]`` on the crops (object keys),
    in its own label order. Blocking: run it in a thread."""
    import onnxruntime

    session = onnxruntime.InferenceSession(champion.onnx, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    rows: list[np.ndarray] = []
    for start in range(0, len(crops), _BATCH):
        images = []
        for key in crops[start : start + _BATCH]:
            with Image.open(io.BytesIO(read(key))) as image:
                images.append(preprocess(image.convert("RGB"), champion.manifest.input)[0])
        scores = np.asarray(session.run(None, {name: np.stack(images)})[0])
        scores = scores.reshape(scores.shape[0], -1)
        rows.append(as_probabilities(scores, champion.manifest.temperature))
    labels = len(champion.manifest.labels)
    return np.concatenate(rows) if rows else np.zeros((0, labels))
