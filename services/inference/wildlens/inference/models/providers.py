"""ONNX Runtime execution providers: the fastest the pod has, chosen at load time.

The same image runs on CPU nodes and GPU nodes; which providers exist depends on the
onnxruntime build installed (``onnxruntime`` or ``onnxruntime-gpu``) and the drivers present.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import onnxruntime as ort
import structlog

from wildlens.common.errors import Unavailable

__all__ = [
    "DEFAULT_PREFERENCE",
    "ProviderUnavailable",
    "choose_providers",
    "create_session",
    "session_options",
]

log = structlog.get_logger(__name__)

DEFAULT_PREFERENCE = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CPUExecutionProvider",
)

# Short names, so settings can say WILDLENS_INFERENCE__PROVIDERS=cuda,cpu.
_ALIASES = {
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}


class ProviderUnavailable(Unavailable):
    """None of the requested execution providers exists in this onnxruntime build."""


def _canonical(name: str) -> str:
    return _ALIASES.get(name.strip().lower(), name.strip())


def choose_providers(
    preference: Sequence[str] | None = None, available: Sequence[str] | None = None
) -> list[str]:
    """The preferred providers this process can use, best first.

    Args:
        preference: provider names (or the aliases tensorrt, cuda, cpu) in order of
            preference; TensorRT, CUDA, CPU when omitted.
        available: what onnxruntime offers; asked from onnxruntime when omitted.

    Raises:
        ProviderUnavailable: none of the preferred providers is available.
    """
    wanted = [_canonical(name) for name in (preference or DEFAULT_PREFERENCE)]
    offered = set(ort.get_available_providers() if available is None else available)
    chosen = list(dict.fromkeys(name for name in wanted if name in offered))
    if not chosen:
        raise ProviderUnavailable(
            f"none of the execution providers {wanted} is available; "
            f"this onnxruntime offers {sorted(offered)}"
        )
    return chosen


def session_options(providers: Sequence[str], intra_op_threads: int | None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Thread counts only matter when the CPU does the maths; on a GPU they would just pin
    # idle threads. Inference pods run several models side by side, so the count is capped.
    if intra_op_threads and list(providers) == ["CPUExecutionProvider"]:
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
    return options


def create_session(
    onnx_path: Path,
    *,
    preference: Sequence[str] | None = None,
    intra_op_threads: int | None = None,
) -> tuple[ort.InferenceSession, list[str]]:
    """An inference session on the best available providers, and the providers it really uses.

    onnxruntime silently falls back (a CUDA provider without a usable GPU becomes CPU), so the
    providers reported are read back from the session, not the ones asked for.
    """
    providers = choose_providers(preference)
    session = ort.InferenceSession(
        str(onnx_path),
        sess_options=session_options(providers, intra_op_threads),
        providers=providers,
    )
    active = list(session.get_providers())
    if active != providers:
        log.warning("execution providers fell back", requested=providers, active=active)
    return session, active
