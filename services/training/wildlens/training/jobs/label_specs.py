"""What a training job's label spec must be before a job is created.

The seam between the job API and the dataset builder: the full model of a label spec
(include, merge, rename, exclude, roll up, minimum and maximum examples per class) lives in
``wildlens.training.datasets.label_spec``; the job API checks only the outer shape here, so
that a malformed request is refused (422) before any work starts, and hands the spec on as
JSON. Where the dataset builder can refuse a spec earlier, it does so through
:func:`check_label_spec`.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_LABEL_SPEC_BYTES", "check_label_spec"]

# Thousands of classes with their taxa and dataset labels fit; more is no label spec.
MAX_LABEL_SPEC_BYTES = 1024 * 1024


def check_label_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec when its outer shape holds: a non-empty JSON object of at most
    :data:`MAX_LABEL_SPEC_BYTES`; ``ValueError`` saying what is wrong otherwise."""
    if not spec:
        raise ValueError("a label spec names at least one class or rule; this one is empty")
    size = len(json.dumps(spec, separators=(",", ":")).encode())
    if size > MAX_LABEL_SPEC_BYTES:
        raise ValueError(f"is {size} bytes as JSON; at most {MAX_LABEL_SPEC_BYTES} are accepted")
    return spec
