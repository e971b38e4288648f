"""The inference service's metrics. Labels are bounded: model names and kinds, never a media id."""

from __future__ import annotations

from prometheus_client import Counter, Histogram, Info

__all__ = [
    "BATCH_LATENCY",
    "BATCH_SIZE",
    "IMAGES_ANALYZED",
    "MODEL_INFO",
    "MODEL_LOADS",
    "SERVING_INFO",
]

BATCH_SIZE = Histogram(
    "wildlens_inference_batch_size_images",
    "Images per detector run, as the micro-batcher formed them.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
BATCH_LATENCY = Histogram(
    "wildlens_inference_batch_duration_seconds",
    "Wall time of one detector run (model and output decoding) on one batch.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IMAGES_ANALYZED = Counter(
    "wildlens_inference_images_total",
    "Images analysed, by where they came from (recorded, backfill, predict) and outcome.",
    ["source", "outcome"],
)
MODEL_LOADS = Counter(
    "wildlens_inference_model_loads_total",
    "Model bundles loaded for serving, by kind and outcome (ok, failed).",
    ["kind", "outcome"],
)
# The global detector, the model most dashboards want to see at a glance.
MODEL_INFO = Info(
    "wildlens_inference_model",
    "The global detector this instance serves, with its execution providers.",
)
# Every model serving, one per kind and scope (global, or a project of its own).
SERVING_INFO = Info(
    "wildlens_inference_serving_model",
    "The models this instance serves, by kind and scope, with their execution providers.",
    ["kind", "scope"],
)
