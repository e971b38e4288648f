"""Media inspection for uploads: receive to disk, sniff the real type, validate, read EXIF.

Single and bulk uploads both check what arrives through these functions; they keep no state.

Typical use, in the upload endpoint::

    received = await receive_to_tempfile(body, directory=tmp, max_bytes=limit)
    with received:
        sniffed = sniff_file(received.path)
        if sniffed.kind == "image":
            info = await asyncio.to_thread(
                inspect_image, received.path, sniffed, max_pixels=max_pixels
            )
"""

from .exif import RawMetadata, ReconyxMakerNote, parse_reconyx_maker_note, read_metadata
from .inspect import ImageInfo, enable_heif, inspect_image
from .receive import Received, receive_to_tempfile
from .sniff import Sniffed, sniff, sniff_file

__all__ = [
    "ImageInfo",
    "RawMetadata",
    "Received",
    "ReconyxMakerNote",
    "Sniffed",
    "enable_heif",
    "inspect_image",
    "parse_reconyx_maker_note",
    "read_metadata",
    "receive_to_tempfile",
    "sniff",
    "sniff_file",
]
