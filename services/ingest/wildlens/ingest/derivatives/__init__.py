"""Derivatives of originals: thumbnails and EXIF-free display copies, once per content hash."""

from .images import Rendered, render_derivatives

__all__ = ["Rendered", "render_derivatives"]
