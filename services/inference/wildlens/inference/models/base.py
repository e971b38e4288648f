"""What every ONNX model in the service shares: a bundle, a lazy locked load, batched runs.

Loading is deferred to first use (or an explicit ``load()`` at start-up) and guarded by a lock,
so concurrent first requests build one session, not several. Running is blocking; callers
keep it off the event loop in a bounded executor.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import structlog

from wildlens.common.bundles import Bundle, BundleError, ModelManifest, load_bundle
from wildlens.inference.models.providers import SessionTuning, choose_providers, create_session

__all__ = ["InferenceModel"]

log = structlog.get_logger(__name__)

Outputs = dict[str, npt.NDArray[np.generic]]


class InferenceModel:
    """An ONNX model from a bundle, loaded on first use.

    Args:
        bundle: a bundle from ``load_bundle`` (its hash already checked).
        providers: execution providers in order of preference; TensorRT, CUDA, CPU if omitted.
        intra_op_threads: threads per operator, applied only when running on CPU.
        max_batch_size: the most images sent to the model in one run when its batch axis is
            dynamic; larger requests are split.
        tuning: ONNX Runtime session settings (optimisation level, threads, memory); the
            documented defaults of :class:`SessionTuning` if omitted.
    """

    kind: str = ""

    def __init__(
        self,
        bundle: Bundle,
        *,
        providers: Sequence[str] | None = None,
        intra_op_threads: int | None = None,
        max_batch_size: int = 32,
        tuning: SessionTuning | None = None,
    ) -> None:
        if self.kind and bundle.manifest.kind != self.kind:
            raise BundleError(
                f"model {bundle.manifest.name} {bundle.manifest.version} is a "
                f"{bundle.manifest.kind}, not a {self.kind}"
            )
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.bundle = bundle
        self._preference = list(providers) if providers else None
        self._intra_op_threads = intra_op_threads
        self._max_batch_size = max_batch_size
        self._tuning = tuning
        self._lock = threading.Lock()
        self._session: ort.InferenceSession | None = None
        self._active: list[str] = []
        self._input_name = ""
        self._input_dtype: type[np.floating] = np.float32
        self._batch_size: int | None = None
        self._any_size = False
        self._output_names: list[str] = []

    @classmethod
    def from_path(
        cls,
        path: Path | str,
        *,
        providers: Sequence[str] | None = None,
        intra_op_threads: int | None = None,
        max_batch_size: int = 32,
        tuning: SessionTuning | None = None,
        **options: Any,
    ) -> Self:
        """Check the bundle at ``path`` (hash included) and wrap it; nothing is loaded yet.

        ``options`` are the model kind's own (a detector's ``rectangular``)."""
        return cls(
            load_bundle(path),
            providers=providers,
            intra_op_threads=intra_op_threads,
            max_batch_size=max_batch_size,
            tuning=tuning,
            **options,
        )

    @property
    def manifest(self) -> ModelManifest:
        return self.bundle.manifest

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def sha256(self) -> str:
        return self.manifest.sha256

    @property
    def loaded(self) -> bool:
        return self._session is not None

    @property
    def providers(self) -> list[str]:
        """The providers the session runs on once loaded; before that, the ones it will ask for."""
        if self._session is not None:
            return list(self._active)
        return choose_providers(self._preference)

    def load(self) -> None:
        """Create the ONNX Runtime session, once; later calls return at once."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            session, active = create_session(
                self.bundle.onnx_path,
                preference=self._preference,
                intra_op_threads=self._intra_op_threads,
                tuning=self._tuning,
            )
            self._inspect(session)
            self._active = active
            self._session = session
        log.info(
            "model loaded",
            model=self.name,
            version=self.version,
            kind=self.manifest.kind,
            providers=active,
        )

    def _inspect(self, session: ort.InferenceSession) -> None:
        inputs = session.get_inputs()
        if len(inputs) != 1:
            raise BundleError(
                f"model {self.name} has {len(inputs)} inputs; one image input expected"
            )
        shape = list(inputs[0].shape)
        if len(shape) != 4:
            raise BundleError(f"model {self.name} input should be [N, 3, H, W], got {shape}")
        spec = self.manifest.input
        height, width = shape[2], shape[3]
        # A static spatial size must agree with the manifest, or every box would be misplaced.
        if (isinstance(height, int) and height != spec.height) or (
            isinstance(width, int) and width != spec.width
        ):
            raise BundleError(
                f"model {self.name} takes {width}x{height} images but its manifest says "
                f"{spec.width}x{spec.height}"
            )
        self._input_name = inputs[0].name
        self._input_dtype = np.float16 if inputs[0].type == "tensor(float16)" else np.float32
        self._batch_size = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        # Named or unknown dimensions: the graph takes any height and width.
        self._any_size = not isinstance(height, int) and not isinstance(width, int)
        self._output_names = [output.name for output in session.get_outputs()]

    @property
    def takes_any_size(self) -> bool:
        """Whether the ONNX input's height and width are dynamic (loads the model to know)."""
        self.load()
        return self._any_size

    def _chunks(self, count: int) -> Iterator[slice]:
        """Slices of a request that fit one run; loads first, as the batch axis decides."""
        self.load()
        step = self._batch_size or self._max_batch_size
        for start in range(0, count, step):
            yield slice(start, min(start + step, count))

    def _run(self, batch: npt.NDArray[np.float32]) -> Outputs:
        """One run of the session on ``batch``; pads to a fixed batch size where there is one."""
        self.load()
        assert self._session is not None
        count = batch.shape[0]
        if self._batch_size is not None and count < self._batch_size:
            padding = np.zeros((self._batch_size - count, *batch.shape[1:]), dtype=batch.dtype)
            batch = np.concatenate([batch, padding])
        # No copy when the batch already has the input's type (float32 models).
        feed = batch.astype(self._input_dtype, copy=False)
        results = self._session.run(None, {self._input_name: feed})
        return {
            name: np.asarray(result)[:count]
            for name, result in zip(self._output_names, results, strict=True)
        }
