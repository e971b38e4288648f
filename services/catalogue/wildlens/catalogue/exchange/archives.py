"""A zip unpacked into a folder within the limits, counted as it unpacks.

What an entry's header says it holds is checked first and what it really unpacks to is counted
chunk by chunk, so that a zip bomb (a few MB unpacking to many GB) stops at the limit instead
of filling the disk, whatever its headers claim: the whole archive may unpack to
``WILDLENS_LIMITS__UNPACKED_BYTES``, one entry to ``__ENTRY_BYTES``, one entry past 1 MiB to at
most ``__COMPRESSION_RATIO`` times its packed size, and an archive may hold
``__ARCHIVE_ENTRIES`` entries. An import job unpacks within limits of its own for the whole
archive and one entry (``__IMPORT_JOB_UNPACKED_BYTES``, ``__IMPORT_JOB_ENTRY_BYTES``); the
ratio and the entry count hold for it as they are. Entries that are links, devices or other
special files, and names that are absolute, climb out with ``..``, name a drive or hold
control characters are refused: nothing in a package is written outside its folder. Archives
inside the archive are files like any other: they are never unpacked.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from wildlens.common.errors import Invalid, PayloadTooLarge
from wildlens.common.offload import StopFlag
from wildlens.common.settings import LimitSettings
from wildlens.common.text import text_problem

__all__ = [
    "JOB_LIMIT_NAMES",
    "REQUEST_LIMIT_NAMES",
    "LimitNames",
    "relative_name",
    "size_text",
    "unpack_zip",
]

# Small reads: zipfile reads ahead as many packed bytes as are asked for, and the ratio is
# measured against what it has read.
_CHUNK = 64 << 10
# Small entries may compress as well as they like (a blank CSV, a run of zeros).
_RATIO_FLOOR = 1 << 20


@dataclass(frozen=True)
class LimitNames:
    """The settings an archive's total and per-entry limits come from, named in a refusal."""

    unpacked: str
    entry: str


REQUEST_LIMIT_NAMES = LimitNames("WILDLENS_LIMITS__UNPACKED_BYTES", "WILDLENS_LIMITS__ENTRY_BYTES")
JOB_LIMIT_NAMES = LimitNames(
    "WILDLENS_LIMITS__IMPORT_JOB_UNPACKED_BYTES", "WILDLENS_LIMITS__IMPORT_JOB_ENTRY_BYTES"
)


def size_text(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            value = n / (1 << shift)
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def relative_name(name: str, where: str = "the package") -> PurePosixPath:
    """``name`` as a path inside a folder; Invalid when it would lead out of it."""
    problem = text_problem(name)
    if problem is not None:
        raise Invalid(f"refusing a file in {where} whose name {problem}")
    path = PurePosixPath(name.replace("\\", "/"))
    drive = len(path.parts[0]) == 2 and path.parts[0][1] == ":" if path.parts else False
    if path.is_absolute() or drive or ".." in path.parts or not path.parts:
        raise Invalid(f"refusing a file named {name!r} in {where}: it would be outside it")
    return path


def _kind_problem(info: zipfile.ZipInfo) -> str | None:
    kind = stat.S_IFMT(info.external_attr >> 16)
    if info.create_system != 3 or kind == 0:
        return None  # made elsewhere than on Unix, or without a file type: a plain file
    if kind == stat.S_IFLNK:
        return "is a symbolic link; links are not unpacked"
    if kind not in (stat.S_IFREG, stat.S_IFDIR):
        return "is a device or other special file"
    return None


def _too_large(what: str, limit: int, setting: str) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{what} unpacks to more than {size_text(limit)}, the limit {setting} sets; "
        "nothing was imported"
    )


def _copy(
    source: IO[bytes],
    target: Path,
    info: zipfile.ZipInfo,
    unpacked: int,
    limits: LimitSettings,
    names: LimitNames,
    stop: StopFlag,
) -> int:
    written = 0
    with target.open("xb") as sink:
        while chunk := source.read(_CHUNK):
            stop.check()
            written += len(chunk)
            unpacked += len(chunk)
            # The packed bytes read so far (zipfile keeps count of those left), so that a bomb
            # is caught after its first MiB, not after a hundred times its whole packed size.
            left = getattr(source, "_compress_left", 0)
            packed = max(info.compress_size - left if isinstance(left, int) else 0, 1)
            if written > limits.entry_bytes:
                raise _too_large(f"the entry {info.filename!r}", limits.entry_bytes, names.entry)
            if unpacked > limits.unpacked_bytes:
                raise _too_large("the archive", limits.unpacked_bytes, names.unpacked)
            if written > _RATIO_FLOOR and written > limits.compression_ratio * packed:
                raise PayloadTooLarge(
                    f"the entry {info.filename!r} unpacks to more than "
                    f"{limits.compression_ratio} times its packed size (a zip bomb?), the "
                    "limit WILDLENS_LIMITS__COMPRESSION_RATIO sets; nothing was imported"
                )
            sink.write(chunk)
    return unpacked


def unpack_zip(
    stop: StopFlag,
    archive: Path,
    folder: Path,
    limits: LimitSettings,
    *,
    already: int = 0,
    names: LimitNames = REQUEST_LIMIT_NAMES,
) -> int:
    """Unpack ``archive`` into ``folder``; the bytes unpacked so far, ``already`` included
    (files uploaded beside the zip count towards the same limit).

    Raises:
        Invalid: not a zip, a corrupt one, or an entry that may not be unpacked.
        PayloadTooLarge: past a limit.
    """
    unpacked = already
    try:
        with zipfile.ZipFile(archive) as zipped:
            entries = zipped.infolist()
            if len(entries) > limits.archive_entries:
                raise PayloadTooLarge(
                    f"the archive has {len(entries)} entries, more than the "
                    f"{limits.archive_entries} WILDLENS_LIMITS__ARCHIVE_ENTRIES allows; "
                    "nothing was imported"
                )
            # Everything is checked before the first byte is written.
            for info in entries:
                relative_name(info.filename, "the archive")
                problem = _kind_problem(info)
                if problem is not None:
                    raise Invalid(f"the archive's entry {info.filename!r} {problem}")
            declared = sum(i.file_size for i in entries)
            if already + declared > limits.unpacked_bytes:
                raise _too_large("the archive", limits.unpacked_bytes, names.unpacked)
            for info in entries:
                stop.check()
                target = folder / relative_name(info.filename, "the archive")
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if info.file_size > limits.entry_bytes:
                    raise _too_large(
                        f"the entry {info.filename!r}", limits.entry_bytes, names.entry
                    )
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(info) as source:
                    unpacked = _copy(source, target, info, unpacked, limits, names, stop)
    except FileExistsError as error:
        raise Invalid(f"the archive holds {error.filename!r} twice") from error
    except (NotADirectoryError, IsADirectoryError) as error:
        raise Invalid(f"the archive holds {error.filename!r} as a file and a folder") from error
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise Invalid(f"the upload is not a zip file, or a damaged one: {error}") from error
    except (NotImplementedError, RuntimeError) as error:
        # An unsupported compression method, or an encrypted entry.
        raise Invalid(f"the zip file cannot be unpacked: {error}") from error
    return unpacked
