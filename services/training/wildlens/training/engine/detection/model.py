"""The torchvision detectors a detector job can train: FCOS (anchor-free, BSD-licensed) on a
MobileNetV3 or ResNet backbone with a feature pyramid, sized for a square input of the job's
image size so that torchvision's own resizing leaves the letterboxed frame as it is. Built
with random weights or from a weights file; nothing is ever downloaded."""

from __future__ import annotations

from functools import partial

import torch
import torchvision
from torch import nn
from torchvision.models.detection import FCOS
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.detection.fcos import FCOSHead
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from wildlens.training.architectures import DETECTOR_ARCHITECTURES
from wildlens.training.engine.architectures import (
    BaseWeights,
    WeightsError,
    WeightsSource,
    _read,
    state_dict_of,
)

__all__ = ["build_detector"]

# The head's classification layer: replaced where a weights file has other classes.
_HEAD = "head.classification_head.cls_logits."


# The pyramid's and the head's width, and the head's depth: a small detector that trains on a
# CPU in minutes (torchvision's defaults, 256 channels and 4 layers, cost some 30 times more).
PYRAMID_CHANNELS = 64
HEAD_CONVS = 2


def _backbone(architecture: str) -> tuple[nn.Module, int]:
    """The backbone with its pyramid (strides 8, 16, 32 and a max-pooled 64), and how many
    feature maps it gives."""
    # Trainable BatchNorm: frozen statistics (torchvision's default for pretrained
    # backbones) would leave a network trained from random weights unnormalised.
    norm = nn.BatchNorm2d
    if architecture.startswith("fcos_mobilenet_v3"):
        name = architecture.removeprefix("fcos_")
        features = torchvision.models.get_model(name, weights=None, norm_layer=norm).features
        stages = (
            [0]
            + [i for i, block in enumerate(features) if getattr(block, "_is_cn", False)]
            + [len(features) - 1]
        )
        chosen = stages[-3:]
        return BackboneWithFPN(
            features,
            {str(index): str(level) for level, index in enumerate(chosen)},
            [features[i].out_channels for i in chosen],
            PYRAMID_CHANNELS,
            extra_blocks=LastLevelMaxPool(),
        ), 4
    if architecture == "fcos_resnet18":
        body = torchvision.models.resnet18(weights=None, norm_layer=norm)
        return BackboneWithFPN(
            body,
            {"layer2": "0", "layer3": "1", "layer4": "2"},
            [128, 256, 512],
            PYRAMID_CHANNELS,
            extra_blocks=LastLevelMaxPool(),
        ), 4
    raise ValueError(
        f"unknown detector architecture {architecture!r}; choose one of "
        f"{', '.join(DETECTOR_ARCHITECTURES)}"
    )


def _anchors(levels: int, first_stride: int) -> AnchorGenerator:
    # FCOS reads one point per location; its size sets which level learns which object size.
    sizes = tuple((first_stride * 2**i,) for i in range(levels))
    return AnchorGenerator(sizes, ((1.0,),) * levels)


def _load(model: nn.Module, tensors: dict[str, torch.Tensor], where: str) -> BaseWeights:
    own = model.state_dict()
    mismatched = [k for k, v in tensors.items() if k in own and v.shape != own[k].shape]
    wrong = [k for k in mismatched if not k.startswith(_HEAD)]
    missing = [k for k in own if k not in tensors and not k.startswith(_HEAD)]
    unexpected = [k for k in tensors if k not in own]
    if wrong or missing or unexpected:
        keys = (wrong or missing or unexpected)[:4]
        raise WeightsError(
            f"{where} do not fit this detector ({', '.join(keys)} …); are they for another "
            "architecture?"
        )
    usable = {k: v for k, v in tensors.items() if k not in mismatched}
    model.load_state_dict(usable, strict=False)
    return BaseWeights(
        source=where,
        tensors_loaded=len(usable),
        head_kept=not any(k.startswith(_HEAD) for k in mismatched),
    )


def build_detector(
    architecture: str, classes: int, size: int, weights: WeightsSource | None = None
) -> tuple[nn.Module, BaseWeights]:
    """An FCOS detector of ``classes`` classes (no background class) for ``size``-pixel square
    inputs.

    Raises:
        WeightsError: the weights cannot be read or are for another architecture.
        ValueError: an unknown architecture or no classes.
    """
    if classes < 1:
        raise ValueError("a detector needs at least 1 class")
    backbone, levels = _backbone(architecture)
    build = partial(
        FCOS,
        backbone,
        classes,
        min_size=size,
        max_size=size,
        anchor_generator=_anchors(levels, 8),
        head=FCOSHead(PYRAMID_CHANNELS, 1, classes, num_convs=HEAD_CONVS),
        # Inference applies its own thresholds and NMS to every location's best class.
        score_thresh=0.01,
        detections_per_img=100,
    )
    model: nn.Module = build()
    if weights is None:
        return model, BaseWeights(source="random", tensors_loaded=0, head_kept=False)
    data, where = _read(weights)
    label = f"the weights in {where}" if where != "bytes" else "the weights given"
    report = _load(model, state_dict_of(data, label), label)
    return model, BaseWeights(where, report.tensors_loaded, report.head_kept)
