"""What a crop goes through before the network: camera-trap augmentation while training, and
for evaluation exactly the resize and normalisation inference applies to a classifier bundle
(``InputSpec`` without letterbox, as the bundle declares it), so that the figures measured
here are the figures served."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter
from torchvision.transforms import v2

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "Normalisation", "eval_transform", "train_transform"]

# torchvision's classifiers are trained with these; published weights expect them.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_SCALE = 1 / 255


@dataclass(frozen=True)
class Normalisation:
    """The square input size and the per-channel normalisation of the model's RGB input."""

    size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    def input_spec(self) -> dict[str, Any]:
        """The manifest's ``input``: crops are already square, so no letterbox."""
        return {
            "width": self.size,
            "height": self.size,
            "letterbox": False,
            "mean": list(self.mean),
            "std": list(self.std),
            "scale": _SCALE,
            "channel_order": "RGB",
        }


class _AsServed:
    """Resize with PIL's bilinear filter and normalise in float32 the way inference's
    ``preprocess`` does (the same operations in the same order, so the arrays are equal)."""

    def __init__(self, norm: Normalisation) -> None:
        self.size = norm.size
        std = np.asarray(norm.std, dtype=np.float32)
        self.mul = np.float32(_SCALE) / std
        self.add = -np.asarray(norm.mean, dtype=np.float32) / std

    def __call__(self, image: Image.Image) -> torch.Tensor:
        image = image if image.mode == "RGB" else image.convert("RGB")
        if image.size != (self.size, self.size):
            image = image.resize(
                (self.size, self.size), Image.Resampling.BILINEAR, reducing_gap=3.0
            )
        pixels = np.asarray(image, dtype=np.float32) * self.mul + self.add
        return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


def eval_transform(norm: Normalisation) -> _AsServed:
    return _AsServed(norm)


class _RandomBlur:
    """Motion or focus blur of a random strength, now and then, with PIL's filter.

    torchvision's blur is a convolution on torch's thread pool, the pool the training step
    runs on: in the training process (no DataLoader workers) a crop's blur then waits for
    threads busy elsewhere, tens of milliseconds on a loaded two-core machine, where PIL's
    filter takes a fraction of one. The draws come from torch's generator, as the other
    augmentations' do, so a seeded run blurs the same crops.
    """

    def __init__(self, p: float, sigma: tuple[float, float]) -> None:
        self.p = p
        self.sigma = sigma

    def __call__(self, image: Image.Image) -> Image.Image:
        if float(torch.rand(1)) >= self.p:
            return image
        sigma = float(torch.empty(1).uniform_(*self.sigma))
        return image.filter(ImageFilter.GaussianBlur(sigma))


def train_transform(norm: Normalisation) -> v2.Compose:
    """Camera-trap augmentation: the animal framed a little differently (detector boxes vary),
    mirrored, light and colour cast changed, night infrared frames (grey), motion or focus
    blur."""
    return v2.Compose(
        [
            v2.RandomResizedCrop(norm.size, scale=(0.7, 1.0), ratio=(0.85, 1.18), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.3, hue=0.03),
            v2.RandomGrayscale(p=0.2),
            _RandomBlur(p=0.2, sigma=(0.1, 2.0)),
            v2.PILToTensor(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(norm.mean), list(norm.std)),
        ]
    )
