"""The inference service's settings: ``WILDLENS_INFERENCE__<FIELD>`` in the environment."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from wildlens.common.settings import SettingsGroup

__all__ = ["InferenceSettings"]


class InferenceSettings(SettingsGroup):
    """Models, thresholds, priors, micro-batching and the limits of predictions and backfills."""

    group: ClassVar[str] = "inference"

    detector: Path | None = None
    detection_threshold: float = 0.2
    # A species classifier bundle run on the detector's animal crops; none: detections only.
    classifier: Path | None = None
    # Classifications kept per detection, best first.
    classifier_top_k: int = Field(default=5, ge=1, le=100)
    # Below this the top species is rolled up to the nearest ancestor (genus, family, ...)
    # whose species together reach it, as SpeciesNet does.
    rollup_threshold: float = Field(default=0.65, gt=0.0, le=1.0)
    # The spatiotemporal prior's weight per project id ("*": every project); 0 or absent: off.
    prior_weights: dict[str, float] = Field(default_factory=dict)
    # How long a project's prior is used before it is learnt again from verified observations.
    prior_refresh_s: float = Field(default=900.0, ge=0.0)
    # Micro-batching: images from many messages and requests share one model run of at most
    # max_batch images, started once it is full or its first image has waited max_wait_ms.
    max_batch: int = Field(default=8, ge=1, le=1024)
    max_wait_ms: float = Field(default=10.0, ge=0)
    # Images fetched, decoded or waiting for the model at once; bounds memory under a backlog.
    prefetch: int = Field(default=32, ge=1)
    # Threads decoding and letterboxing images next to the model run, and decoding and
    # classifying single objects; 0: one more than the pod's cores (``decode_threads``).
    decode_workers: int = Field(default=0, ge=0, le=256)
    # Where bundles downloaded from object storage are kept (default: <data dir>/model-cache).
    model_cache: Path | None = None
    # Images POST /v1/predict accepts, in bytes.
    max_predict_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    # Media a backfill analyses per message (one catalogue page) before handing the rest on.
    backfill_page: int = Field(default=500, ge=1, le=1000)
    # Letterbox models whose ONNX input takes any height and width to the smallest rectangle
    # of stride multiples holding the image (640x480 for a 3:2 frame at 640 px) rather than
    # the full square: the same boxes for a quarter fewer pixels. Off: always the full size.
    rectangular_letterbox: bool = True
    # ONNX Runtime sessions (models/providers.py, SessionTuning, says what each does): every
    # graph optimisation; one intra-op thread per core the pod may use (its CPU quota, not
    # the node's count; 0: that count); the memory pattern and the CPU arena reuse one run's
    # allocations for the next; no spinning, which on a shared 2-core machine made YOLOv8n's
    # batch of 8 slower (563 against 484 ms per image, median of 3) and takes the cores the
    # decoding threads need.
    ort_graph_optimization: Literal["disable", "basic", "extended", "all"] = "all"
    ort_intra_op_threads: int = Field(default=0, ge=0, le=256)
    ort_memory_pattern: bool = True
    ort_cpu_arena: bool = True
    ort_spinning: bool = False
    # Operator threads of a classifier's session; 0: as the detector's (ort_intra_op_threads).
    # A classifier's runs are small (one image's crops, a bus batch of vignettes) and several
    # run side by side (a batch of single objects in each decoding thread, each image's crops
    # in a worker thread): single-threaded runs next to each other fill the cores, where each
    # run's operator threads would wait on the other runs' (plankton
    # vignettes through the consumer: 0.87 of a tight loop with the cores' threads per run
    # and two decoding threads, 0.97-0.99 with one thread per run and three).
    classifier_intra_op_threads: int = Field(default=1, ge=0, le=256)
