"""Decoders: raw detector outputs to boxes (``wildlens.common.bundles``, where the manifest's
``decoder`` names them, so that whoever checks a bundle reads its outputs as serving does)."""

from wildlens.common.bundles import DecodeConfig, RawDetection, decode, nms

__all__ = ["DecodeConfig", "RawDetection", "decode", "nms"]
