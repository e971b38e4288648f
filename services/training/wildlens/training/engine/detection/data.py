"""The frames a detector learns from: each an object key with its boxes (relative
``[x, y, w, h]``, as the catalogue keeps them) and their class indices, letterboxed to the
model's square input exactly as inference letterboxes an upload, so that training and serving
see the same geometry."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from wildlens.common.bundles import InputSpec
from wildlens.common.imaging import preprocess, upright
from wildlens.training.engine.samples import Reader

__all__ = ["FrameDataset", "FrameSample", "input_spec", "letterboxed"]

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class FrameSample:
    """One whole frame: its object key, boxes (relative xywh), class indices and split."""

    key: str
    boxes: Sequence[Box]
    labels: Sequence[int]
    split: str
    location_id: str = ""


def input_spec(size: int) -> InputSpec:
    """The bundle's input: a letterboxed square, pixels scaled to [0, 1] (the wrapper applies
    the network's own normalisation)."""
    return InputSpec(width=size, height=size, letterbox=True)


def letterboxed(data: bytes, boxes: Sequence[Box], size: int) -> tuple[np.ndarray, np.ndarray]:
    """The frame as a ``[3, size, size]`` input and its boxes in input pixels (xyxy)."""
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        image = upright(opened).convert("RGB")
    tensor, placed = preprocess(image, input_spec(size))
    pixels = np.asarray(
        [
            (x * image.width, y * image.height, (x + w) * image.width, (y + h) * image.height)
            for x, y, w, h in boxes
        ],
        dtype=np.float64,
    ).reshape(-1, 4)
    return tensor, placed.to_input_xyxy(pixels)


# Letterboxed frames kept in memory between epochs, at most (bytes): each is read from the
# store and decoded once rather than every epoch, as long as they fit.
CACHE_BYTES = 2 * 1024**3


class FrameDataset(Dataset[tuple[torch.Tensor, dict[str, torch.Tensor]]]):
    """Letterboxed frames with their targets (``boxes`` xyxy input pixels, ``labels``);
    ``train`` adds random horizontal flips and brightness changes."""

    def __init__(
        self, samples: Sequence[FrameSample], size: int, read: Reader, *, train: bool = False
    ) -> None:
        self.samples = list(samples)
        self.size = size
        self.read = read
        self.train = train
        # As 8-bit pixels (the input is pixels / 255 exactly), with the boxes.
        self._kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._kept_bytes = 0

    def _frame(self, index: int) -> tuple[torch.Tensor, np.ndarray]:
        kept = self._kept.get(index)
        if kept is None:
            sample = self.samples[index]
            tensor, boxes = letterboxed(self.read(sample.key), sample.boxes, self.size)
            kept = (np.rint(tensor * 255).astype(np.uint8), boxes)
            if self._kept_bytes + kept[0].nbytes <= CACHE_BYTES:
                self._kept[index] = kept
                self._kept_bytes += kept[0].nbytes
        pixels, boxes = kept
        return torch.from_numpy(pixels.astype(np.float32) * np.float32(1 / 255)), boxes

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        sample = self.samples[index]
        image, boxes = self._frame(index)
        target = torch.from_numpy(boxes.astype(np.float32)).reshape(-1, 4)
        if self.train:
            if torch.rand(()) < 0.5:
                image = image.flip(-1)
                target = torch.stack(
                    (
                        self.size - target[:, 2],
                        target[:, 1],
                        self.size - target[:, 0],
                        target[:, 3],
                    ),
                    dim=1,
                )
            image = (image * float(torch.empty(()).uniform_(0.8, 1.2))).clamp(0, 1)
        return image, {
            "boxes": target,
            "labels": torch.as_tensor(list(sample.labels), dtype=torch.int64),
        }


def collate(
    batch: Sequence[tuple[torch.Tensor, dict[str, torch.Tensor]]],
) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    return [image for image, _ in batch], [target for _, target in batch]
