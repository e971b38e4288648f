"""Where an image's file is, the way COCO Camera Traps says it.

``file_name`` is a path relative to the data set's folder, never a URL or an absolute path
(COCO tools join it to the folder they are given). A medium recorded under such a relative
path keeps it; one whose file lives at a URL (or was recorded under an absolute path) is
named by its file name, and the URL goes into the image's ``url``. Where two such derived
names would be the same, each of them is put under its image id, so that every image has a
file of its own in the folder whichever order the images come in.
"""

from __future__ import annotations

import mimetypes
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from wildlens.catalogue.models import Media

__all__ = ["ImageFile", "image_files", "is_relative"]


@dataclass(frozen=True)
class ImageFile:
    file_name: str
    # Where the file can be fetched from, when the catalogue knows a URL for it.
    url: str | None


def is_relative(path: str) -> bool:
    """Whether ``path`` names a file inside a data set's folder."""
    if not path or "://" in path:
        return False
    windows = PureWindowsPath(path)
    if windows.drive or windows.is_absolute() or PurePosixPath(path).is_absolute():
        return False
    return ".." not in PurePosixPath(path.replace("\\", "/")).parts


def _recorded(media: Media) -> str | None:
    """The relative path the medium was recorded under: its own, else the one the COCO file
    it came from gave (kept where the file's URL took the path's place)."""
    imported = media.raw_metadata.get("coco") if isinstance(media.raw_metadata, dict) else None
    candidates = [media.file_path]
    if isinstance(imported, dict) and isinstance(imported.get("file_name"), str):
        candidates.append(imported["file_name"])
    for path in candidates:
        if is_relative(path):
            return path.replace("\\", "/")
    return None


def _own_name(image_id: str, media: Media) -> str:
    """The file's own name: as recorded, else the last part of an absolute path, else the
    image id (a URL's last part is often no file name at all)."""
    if media.filename and is_relative(media.filename):
        return media.filename.replace("\\", "/")
    if media.file_path and "://" not in media.file_path:
        name = PureWindowsPath(media.file_path).name
        if name:
            return name
    return image_id + (mimetypes.guess_extension(media.content_type) or "")


def image_files(images: Iterable[tuple[str, Media]]) -> dict[str, ImageFile]:
    """Each image's ``file_name`` and URL, by image id, for ``(image id, medium)`` pairs."""
    named: dict[str, str] = {}
    derived: dict[str, str] = {}
    urls: dict[str, str | None] = {}
    for image_id, media in images:
        urls[image_id] = media.file_path if "://" in media.file_path else None
        recorded = _recorded(media)
        if recorded is not None:
            named[image_id] = recorded
        else:
            derived[image_id] = _own_name(image_id, media)
    taken = Counter(derived.values())
    taken.update(set(named.values()))
    for image_id, name in derived.items():
        named[image_id] = f"{image_id}/{name}" if taken[name] > 1 else name
    return {key: ImageFile(named[key], urls[key]) for key in urls}
