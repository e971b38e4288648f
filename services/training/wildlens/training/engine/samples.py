"""The crops a model learns from: each an object key or a loader of JPEG bytes, a class index
and the split it belongs to."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from PIL import Image
from torch.utils.data import Dataset

__all__ = ["CropDataset", "Reader", "Sample", "Split", "in_split"]

Split = Literal["train", "validation", "test"]
# Reads an object's bytes by key (the job passes its object store's synchronous reader).
Reader = Callable[[str], bytes]


@dataclass(frozen=True)
class Sample:
    # An object key (read with the dataset's reader) or a callable returning the JPEG bytes.
    crop: str | Callable[[], bytes]
    label: int
    split: Split


def in_split(samples: Sequence[Sample], split: Split) -> list[Sample]:
    return [s for s in samples if s.split == split]


class CropDataset(Dataset[tuple[torch.Tensor, int]]):
    """Decoded, transformed crops with their class index."""

    def __init__(
        self,
        samples: Sequence[Sample],
        transform: Callable[[Image.Image], torch.Tensor],
        read: Reader | None = None,
    ) -> None:
        if read is None and any(isinstance(s.crop, str) for s in samples):
            raise ValueError("samples name object keys but no reader was given to fetch them")
        self.samples = list(samples)
        self.transform = transform
        self.read = read

    def __len__(self) -> int:
        return len(self.samples)

    def image(self, index: int) -> Image.Image:
        sample = self.samples[index]
        if isinstance(sample.crop, str):
            assert self.read is not None
            data = self.read(sample.crop)
        else:
            data = sample.crop()
        with Image.open(io.BytesIO(data)) as image:
            return image.convert("RGB")

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(self.image(index)), self.samples[index].label
