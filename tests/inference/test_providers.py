from __future__ import annotations

import onnxruntime as ort
import pytest

from wildlens.inference.models.providers import (
    ProviderUnavailable,
    choose_providers,
    session_options,
)

GPU_POD = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
CPU_POD = ["AzureExecutionProvider", "CPUExecutionProvider"]


def test_best_available_first() -> None:
    assert choose_providers(available=GPU_POD) == GPU_POD
    assert choose_providers(available=CPU_POD) == ["CPUExecutionProvider"]


def test_explicit_preference_with_short_names() -> None:
    assert choose_providers(["cuda", "cpu"], available=GPU_POD) == [
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]


def test_nothing_usable_is_an_error_naming_what_exists() -> None:
    with pytest.raises(ProviderUnavailable, match="CPUExecutionProvider"):
        choose_providers(["tensorrt"], available=CPU_POD)


def test_this_machine_offers_a_provider() -> None:
    assert choose_providers()[-1] in ort.get_available_providers()


def test_thread_limit_only_on_cpu() -> None:
    assert session_options(["CPUExecutionProvider"], 3).intra_op_num_threads == 3
    on_gpu = session_options(["CUDAExecutionProvider", "CPUExecutionProvider"], 3)
    assert on_gpu.intra_op_num_threads == 0  # onnxruntime's own default
