"""Originals the catalogue stored from imports (``media.imported``): held like uploads', with
the same derivatives."""

from .service import hold_imported

__all__ = ["hold_imported"]
