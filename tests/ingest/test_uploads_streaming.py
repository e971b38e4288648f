"""The pieces of a streamed upload, without a server: multipart parsing as bytes trickle in,
the sniffing size limit, the token bucket and file-name neutralising."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

import pytest

from tests.support import bad_files
from wildlens.common.errors import Invalid, PayloadTooLarge, UnsupportedMedia
from wildlens.ingest.multipart import MultipartReader, boundary_of
from wildlens.ingest.ratelimit import TokenBuckets
from wildlens.ingest.settings import IngestSettings
from wildlens.ingest.uploads.filenames import MAX_NAME_BYTES, sanitise_filename
from wildlens.ingest.uploads.receiving import SniffedStream

BOUNDARY = b"----wildlens-test-boundary"


def multipart(fields: dict[str, str], file: bytes | None, filename: str = "a.jpg") -> bytes:
    out = b""
    for name, value in fields.items():
        out += (
            b"--" + BOUNDARY + b"\r\n"
            b'Content-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n'
            + value.encode() + b"\r\n"
        )  # fmt: skip
    if file is not None:
        out += (
            b"--" + BOUNDARY + b"\r\n"
            b'Content-Disposition: form-data; name="file"; filename="' + filename.encode()
            + b'"\r\nContent-Type: image/jpeg\r\n\r\n' + file + b"\r\n"
        )  # fmt: skip
    return out + b"--" + BOUNDARY + b"--\r\n"


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def read_all(chunks: AsyncIterator[bytes]) -> list[tuple[str, str | None, bytes]]:
    reader = MultipartReader(chunks, BOUNDARY)
    parts = []
    while (part := await reader.next_part()) is not None:
        parts.append((part.name, part.filename, b"".join([c async for c in part])))
    return parts


@pytest.mark.parametrize("chunk_size", [1, 7, 4096, 1 << 20])
async def test_parts_come_out_whole_however_the_body_is_cut(chunk_size: int) -> None:
    image = bad_files.small_jpeg()
    body = multipart({"latitude": "50.1", "captured_at": "2021-04-01T10:00:00+02:00"}, image)
    parts = await read_all(chunked(body, chunk_size))
    assert parts == [
        ("latitude", None, b"50.1"),
        ("captured_at", None, b"2021-04-01T10:00:00+02:00"),
        ("file", "a.jpg", image),
    ]


async def test_a_body_cut_off_before_its_closing_boundary_is_refused() -> None:
    body = multipart({}, bad_files.small_jpeg())
    with pytest.raises(Invalid, match="ended before its closing boundary"):
        await read_all(chunked(body[: len(body) // 2], 1024))


async def test_garbage_instead_of_multipart_is_refused() -> None:
    with pytest.raises(Invalid, match="malformed"):
        await read_all(chunked(b"--" + BOUNDARY + b"\r\nno headers here\r\n\r\n", 64))


async def test_too_many_parts_are_refused() -> None:
    body = multipart({f"x{i}": "1" for i in range(100)}, None)
    with pytest.raises(Invalid, match="more than 32 parts"):
        await read_all(chunked(body, 4096))


def test_boundary_of_reads_only_multipart_form_data() -> None:
    assert boundary_of('multipart/form-data; boundary="abc"') == b"abc"
    assert boundary_of("application/json") is None
    assert boundary_of(None) is None
    with pytest.raises(Invalid, match="no boundary"):
        boundary_of("multipart/form-data")


class Counting:
    """An endless body that records how much of it was asked for."""

    def __init__(self, head: bytes, chunk: int = 64 * 1024) -> None:
        self.head = head
        self.chunk = chunk
        self.pulled = 0

    def __aiter__(self) -> Counting:
        return self

    async def __anext__(self) -> bytes:
        data = self.head if self.pulled == 0 else b"\0" * self.chunk
        self.pulled += len(data)
        return data


async def drain(chunks: AsyncIterator[bytes]) -> None:
    async for _ in chunks:
        pass


async def test_an_image_is_refused_as_soon_as_it_passes_the_image_limit() -> None:
    limits = IngestSettings(max_image_bytes=1 << 20, max_video_bytes=1 << 30)
    body = Counting(bad_files.small_jpeg()[:4096])
    stream = SniffedStream(body, limits)
    with pytest.raises(PayloadTooLarge, match="image is larger than the limit of 1048576"):
        await drain(stream)
    assert stream.sniffed is not None
    assert stream.sniffed.kind == "image"
    assert body.pulled <= (1 << 20) + body.chunk


async def test_a_video_gets_the_video_limit() -> None:
    limits = IngestSettings(max_image_bytes=1 << 20, max_video_bytes=4 << 20)
    mp4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isommp41" + b"\0" * 4072
    body = Counting(mp4)
    with pytest.raises(PayloadTooLarge, match="video is larger than the limit of 4194304"):
        await drain(SniffedStream(body, limits))
    assert (4 << 20) < body.pulled <= (4 << 20) + body.chunk


async def test_content_that_is_no_media_is_refused_from_its_first_bytes() -> None:
    body = Counting(b"\x7fELF\x02\x01\x01" + b"\0" * 5000)
    with pytest.raises(UnsupportedMedia, match="executable"):
        await drain(SniffedStream(body, IngestSettings()))
    assert body.pulled < 64 * 1024 * 2


async def test_a_short_file_is_sniffed_at_its_end_and_an_empty_one_refused() -> None:
    stream = SniffedStream(chunked(b"\x89PNG\r\n\x1a\n" + b"\0" * 10, 4), IngestSettings())
    await drain(stream)
    assert stream.sniffed is not None
    assert stream.sniffed.content_type == "image/png"
    with pytest.raises(Invalid, match="empty"):
        await drain(SniffedStream(chunked(b"", 4), IngestSettings()))


def test_the_bucket_allows_a_burst_then_the_steady_rate() -> None:
    now = [1000.0]
    buckets = TokenBuckets(per_minute=60, burst=3, clock=lambda: now[0])
    assert [buckets.take("gateway") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("gateway") == pytest.approx(1.0)
    assert buckets.take("other gateway") == 0.0  # keys do not share a bucket
    now[0] += 0.5
    assert buckets.take("gateway") == pytest.approx(0.5)
    now[0] += 0.5
    assert buckets.take("gateway") == 0.0
    now[0] += 3600
    assert [buckets.take("gateway") for _ in range(4)][-1] > 0  # refills to the burst only


HOSTILE_NAMES: Iterable[tuple[str, str]] = [
    ("../../etc/passwd.jpg", "passwd.jpg"),
    ("C:\\x\\y.jpg", "y.jpg"),
    ("C:evil.jpg", "evil.jpg"),
    ("trap\x00.php\x00.jpg", "trap.php.jpg"),
    ("photo\u202egpj.exe", "photogpj.exe"),
    ("..", ""),
    ("/", ""),
    (".htaccess", "htaccess"),
    ("IMG_0001.JPG", "IMG_0001.JPG"),
]


@pytest.mark.parametrize(("sent", "kept"), HOSTILE_NAMES)
def test_file_names_are_reduced_to_a_safe_base_name(sent: str, kept: str) -> None:
    assert sanitise_filename(sent) == kept


def test_very_long_names_are_cut_keeping_the_extension() -> None:
    kept = sanitise_filename("é" * 1000 + ".jpeg")
    assert len(kept.encode()) <= MAX_NAME_BYTES
    assert kept.endswith(".jpeg")
    assert kept.startswith("éé")
