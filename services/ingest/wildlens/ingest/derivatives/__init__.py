"""Derivatives of originals: thumbnails and EXIF-free display copies, once per content hash.

``jobs`` handles the work queue's requests; ``images`` renders the copies.
"""

from .images import Rendered, render_derivatives

__all__ = ["Rendered", "render_derivatives"]
