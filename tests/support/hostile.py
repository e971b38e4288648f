"""Hostile input as an attacker would make it (zip and tar bombs, archives with links and
paths that climb out, deeply nested JSON), and a watch on ``/healthz`` while it is sent.

The bombs are written by hand rather than by compressing gigabytes: a deflate stream that is
fully flushed after each block of zeros starts every block afresh, so one compressed block
repeated n times is a valid stream of n blocks of zeros, and a 3 GiB entry costs 3 MB and a
CRC.
"""

from __future__ import annotations

import asyncio
import io
import stat
import struct
import tarfile
import time
import zipfile
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = [
    "HealthWatch",
    "crc32_combine",
    "deflate_zeros",
    "gzip_tar_of_zeros",
    "leftovers",
    "nested_json",
    "raw_zip",
    "special_entry_zip",
    "watching_health",
    "zip_of",
]

_BLOCK = 16 << 20


@dataclass(frozen=True)
class Entry:
    """One entry of a zip written by :func:`raw_zip`: what its headers say and its bytes."""

    name: str
    data: bytes
    size: int  # unpacked, as the headers declare it
    crc: int
    method: int = zipfile.ZIP_DEFLATED
    mode: int = stat.S_IFREG | 0o644


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, n = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[n]
        vector >>= 1
        n += 1
    return total


def _gf2_square(matrix: list[int]) -> list[int]:
    return [_gf2_times(matrix, row) for row in matrix]


def crc32_combine(crc1: int, crc2: int, length2: int) -> int:
    """The CRC-32 of A + B from those of A and B and B's length (zlib's crc32_combine, which
    Python does not expose): the CRC of gigabytes of zeros without reading them."""
    if length2 == 0:
        return crc1
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
    even = _gf2_square(odd)  # two
    odd = _gf2_square(even)  # four
    while True:
        even = _gf2_square(odd)
        if length2 & 1:
            crc1 = _gf2_times(even, crc1)
        length2 >>= 1
        if not length2:
            break
        odd = _gf2_square(even)
        if length2 & 1:
            crc1 = _gf2_times(odd, crc1)
        length2 >>= 1
        if not length2:
            break
    return crc1 ^ crc2


def deflate_zeros(size: int) -> Entry:
    """An entry named ``x`` of ``size`` zero bytes (a multiple of 16 MiB), deflated to about a
    thousandth of that."""
    assert size % _BLOCK == 0
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(bytes(_BLOCK)) + packer.flush(zlib.Z_FULL_FLUSH)
    end = packer.flush(zlib.Z_FINISH)
    # The CRC of n blocks by doubling: that of 2^k blocks, combined where n has a bit set.
    crc, power, power_size, n = 0, zlib.crc32(bytes(_BLOCK)), _BLOCK, size // _BLOCK
    while n:
        if n & 1:
            crc = crc32_combine(crc, power, power_size)
        power, power_size = crc32_combine(power, power, power_size), 2 * power_size
        n >>= 1
    return Entry("x", block * (size // _BLOCK) + end, size, crc)


def raw_zip(*entries: Entry) -> bytes:
    """A zip of ``entries`` written field by field, so that its headers say what they are
    told to (made on Unix: the entries' file types are recorded)."""
    out = io.BytesIO()
    central = io.BytesIO()
    for entry in entries:
        name = entry.name.encode()
        offset = out.tell()
        out.write(
            struct.pack(
                "<IHHHHHIIIHH",
                0x04034B50,
                20,
                0x800,
                entry.method,
                0,
                0x21,
                entry.crc,
                len(entry.data),
                entry.size,
                len(name),
                0,
            )
        )
        out.write(name)
        out.write(entry.data)
        central.write(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                (3 << 8) | 20,
                20,
                0x800,
                entry.method,
                0,
                0x21,
                entry.crc,
                len(entry.data),
                entry.size,
                len(name),
                0,
                0,
                0,
                0,
                entry.mode << 16,
                offset,
            )
        )
        central.write(name)
    start = out.tell()
    out.write(central.getvalue())
    out.write(
        struct.pack(
            "<IHHHHIIH",
            0x06054B50,
            0,
            0,
            len(entries),
            len(entries),
            len(central.getvalue()),
            start,
            0,
        )
    )
    return out.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def special_entry_zip(name: str, mode: int, data: bytes = b"/etc/passwd") -> bytes:
    """A zip with one entry of file type ``mode`` (a link's data is its target)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo(name, date_time=(2021, 4, 11, 20, 43, 9))
        info.create_system = 3
        info.external_attr = (mode | 0o777) << 16
        archive.writestr(info, data)
    return buffer.getvalue()


def gzip_tar_of_zeros(size: int) -> bytes:
    """A .tar.gz holding one file of ``size`` zero bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        info = tarfile.TarInfo("observations.csv")
        info.size = size
        archive.addfile(info, io.BytesIO(bytes(size)))
    return buffer.getvalue()


def nested_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def leftovers(folder: Path) -> list[str]:
    """What is left in ``folder`` (an importer's scratch space)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@dataclass
class HealthWatch:
    """``/healthz`` asked over and over while something else runs: the longest wait for an
    answer (the time from one answer to the next, so that a blocked event loop shows even
    when no request was in flight as it blocked)."""

    answers: int = 0
    statuses: set[int] = field(default_factory=set)
    longest_gap_s: float = 0.0


@asynccontextmanager
async def watching_health(
    client: httpx.AsyncClient, interval_s: float = 0.01
) -> AsyncIterator[HealthWatch]:
    watch = HealthWatch()
    done = asyncio.Event()

    async def poll() -> None:
        last = time.perf_counter()
        while not done.is_set():
            response = await client.get("/healthz")
            now = time.perf_counter()
            watch.answers += 1
            watch.statuses.add(response.status_code)
            watch.longest_gap_s = max(watch.longest_gap_s, now - last)
            last = now
            await asyncio.sleep(interval_s)

    task = asyncio.create_task(poll())
    try:
        # The first answer before the hostile request starts.
        while watch.answers == 0:
            await asyncio.sleep(interval_s)
        yield watch
    finally:
        done.set()
        await task
