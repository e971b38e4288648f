"""The generated shapes as engine samples, and torch kept to one thread: the layers are tiny
and the machines that run the suite are shared."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from tests.support.shapes import shape_samples
from wildlens.training.engine import Sample


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def samples(per_split: dict[str, int], seed: int = 0) -> list[Sample]:
    return [
        Sample(crop=crop, label=label, split=split)  # type: ignore[arg-type]
        for crop, label, split in shape_samples(per_split, seed)
    ]
