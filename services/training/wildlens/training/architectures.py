"""The torchvision classifiers and detectors the training pipeline builds: named here, without
torch, so that the job API checks a request against the same list the engine builds from."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "ARCHITECTURES",
    "DETECTOR_ARCHITECTURES",
    "Architecture",
    "DetectorArchitecture",
    "JobArchitecture",
]

Architecture = Literal[
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "resnet18",
    "resnet50",
    "convnext_tiny",
]
ARCHITECTURES: tuple[str, ...] = get_args(Architecture)

DetectorArchitecture = Literal[
    "fcos_mobilenet_v3_small", "fcos_mobilenet_v3_large", "fcos_resnet18"
]
DETECTOR_ARCHITECTURES: tuple[str, ...] = get_args(DetectorArchitecture)
# What a job may name: one list, so that a name of neither kind is one clear error.
JobArchitecture = Literal[Architecture, DetectorArchitecture]
