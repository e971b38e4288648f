"""The training service's settings: ``WILDLENS_TRAINING__<FIELD>`` in the environment."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field

from wildlens.common.settings import SettingsGroup

__all__ = ["TrainingSettings"]


class TrainingSettings(SettingsGroup):
    """Limits of the model registry and of model uploads; who trains, and from what."""

    group: ClassVar[str] = "training"

    # The largest model.onnx POST /v1/models accepts. MegaDetector v5 exports to about 560 MB
    # in float32; the biggest published camera-trap detectors stay under 1 GB.
    max_model_bytes: int = Field(default=2 * 1024 * 1024 * 1024, ge=1)
    # The largest manifest (wildlens-model.json); labels lists of a few thousand species fit.
    max_manifest_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    # How long a model upload's PUT URLs work (POST /v1/models/uploads), and so how long it
    # waits to be completed; one never completed is swept as long again after that. A bundle
    # of gigabytes over a field station's link takes hours.
    upload_ttl_s: int = Field(default=24 * 3600, ge=1, le=7 * 24 * 3600)
    # Training jobs this process runs at once. 0: it runs none and does not consume
    # training.requested (the chart's API pods; its training workers are their own pods).
    training_jobs: int = Field(default=1, ge=0, le=16)
    # The folder local base-weights files may be named from (POST /v1/training-jobs with
    # base_weights {"kind": "file"}); none: only object keys and random weights. Nothing is
    # ever downloaded: ImageNet or published weights are put here (or in the store) first.
    weights_dir: Path | None = None
    # Log lines a job keeps for GET /v1/training-jobs/{id} (the most recent ones).
    log_tail_lines: int = Field(default=100, ge=1, le=10_000)
