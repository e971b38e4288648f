"""ONNX Runtime execution providers: the fastest the pod has, chosen at load time.

The same image runs on CPU nodes and GPU nodes; which providers exist depends on the
onnxruntime build installed (``onnxruntime`` or ``onnxruntime-gpu``) and the drivers present.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import onnxruntime as ort
import structlog

from wildlens.common.errors import Unavailable

__all__ = [
    "DEFAULT_PREFERENCE",
    "ProviderUnavailable",
    "SessionTuning",
    "choose_providers",
    "create_session",
    "pod_cores",
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


GraphOptimization = Literal["disable", "basic", "extended", "all"]

_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def pod_cores(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may really use: the cgroup's CPU quota where one is set (a pod's
    ``limits.cpu``, rounded up), else the CPUs it is pinned to.

    ``os.cpu_count()`` reports the node's cores; a pod limited to 2 of a 64-core node that
    starts 64 threads per operator spends its quota on contention and throttling.
    """
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = os.cpu_count() or 1
    quota = _cgroup_quota(cgroup_root)
    if quota is not None:
        allowed = min(allowed, max(1, math.ceil(quota)))
    return max(1, allowed)


def _cgroup_quota(root: Path) -> float | None:
    """CPUs granted by the cgroup (v2 ``cpu.max``, else v1 ``cpu.cfs_quota_us``); None: no
    limit or no cgroup to read."""
    try:
        quota, period = (root / "cpu.max").read_text(encoding="ascii").split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text(encoding="ascii"))
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text(encoding="ascii"))
    except (OSError, ValueError):
        return None
    return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us


@dataclass(frozen=True, slots=True)
class SessionTuning:
    """How ONNX Runtime sessions are set up (the service's settings carry each field).

    Args:
        graph_optimization: ONNX Runtime's graph optimisation level; "all" fuses convolutions
            with their activations and lays out tensors for the CPU's vector units.
        intra_op_threads: threads per operator on CPU; None: the cores the pod has
            (:func:`pod_cores`).
        memory_pattern: let ONNX Runtime plan one allocation for a run from the shapes of the
            previous ones (pays when input shapes repeat, as a deployment's do).
        cpu_arena: keep freed CPU memory in ONNX Runtime's arena for the next run instead of
            returning it to the allocator.
        spinning: let idle operator threads spin for the next piece of work rather than
            sleep; it shaves microseconds off each operator on an otherwise idle machine, but
            takes the cores from the threads decoding the next batch next to the run.
    """

    graph_optimization: GraphOptimization = "all"
    intra_op_threads: int | None = None
    memory_pattern: bool = True
    cpu_arena: bool = True
    spinning: bool = False

    def threads(self) -> int:
        return self.intra_op_threads or pod_cores()


def session_options(
    providers: Sequence[str],
    intra_op_threads: int | None = None,
    tuning: SessionTuning | None = None,
) -> ort.SessionOptions:
    tuning = tuning or SessionTuning(intra_op_threads=intra_op_threads)
    options = ort.SessionOptions()
    options.graph_optimization_level = _LEVELS[tuning.graph_optimization]
    options.enable_mem_pattern = tuning.memory_pattern
    options.enable_cpu_mem_arena = tuning.cpu_arena
    # Thread counts only matter when the CPU does the maths; on a GPU they would just pin
    # idle threads. ONNX Runtime's own default is the node's cores, not the pod's.
    if list(providers) == ["CPUExecutionProvider"]:
        options.intra_op_num_threads = intra_op_threads or tuning.threads()
        options.inter_op_num_threads = 1
        options.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if tuning.spinning else "0"
        )
    return options


def create_session(
    onnx_path: Path,
    *,
    preference: Sequence[str] | None = None,
    intra_op_threads: int | None = None,
    tuning: SessionTuning | None = None,
) -> tuple[ort.InferenceSession, list[str]]:
    """An inference session on the best available providers, and the providers it really uses.

    onnxruntime silently falls back (a CUDA provider without a usable GPU becomes CPU), so the
    providers reported are read back from the session, not the ones asked for.
    """
    providers = choose_providers(preference)
    session = ort.InferenceSession(
        str(onnx_path),
        sess_options=session_options(providers, intra_op_threads, tuning),
        providers=providers,
    )
    active = list(session.get_providers())
    if active != providers:
        log.warning("execution providers fell back", requested=providers, active=active)
    return session, active
