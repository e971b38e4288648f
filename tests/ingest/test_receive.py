from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from wildlens.common.errors import Invalid, PayloadTooLarge
from wildlens.ingest.media import receive_to_tempfile


async def _stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


async def test_the_file_on_disk_has_the_bytes_their_hash_and_size(tmp_path: Path) -> None:
    # Larger than the write buffer, in uneven chunks, with an empty chunk in between.
    data = bytes(range(256)) * 12_000
    chunks = [*_chunks(data[:100_000], 65_536), b"", *_chunks(data[100_000:], 10_007)]

    received = await receive_to_tempfile(_stream(chunks), directory=tmp_path, max_bytes=len(data))

    assert received.path.parent == tmp_path
    assert received.path.read_bytes() == data
    assert received.sha256 == hashlib.sha256(data).hexdigest()
    assert received.size == len(data)
    received.discard()
    assert list(tmp_path.iterdir()) == []


async def test_leaving_the_with_block_removes_the_file(tmp_path: Path) -> None:
    with await receive_to_tempfile(_stream([b"abc"]), directory=tmp_path, max_bytes=10) as received:
        assert received.path.exists()
    assert not received.path.exists()
    received.discard()  # a second time is harmless


async def test_a_body_over_the_limit_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    data = bytes(3 * 1024 * 1024 + 1)

    with pytest.raises(PayloadTooLarge) as caught:
        await receive_to_tempfile(
            _stream(_chunks(data, 65_536)), directory=tmp_path, max_bytes=3 * 1024 * 1024
        )

    assert "file is larger than the limit of 3145728 bytes" in caught.value.detail
    assert caught.value.status_code == 413
    assert list(tmp_path.iterdir()) == []


async def test_exactly_the_limit_is_accepted(tmp_path: Path) -> None:
    with await receive_to_tempfile(
        _stream([b"x" * 10]), directory=tmp_path, max_bytes=10
    ) as received:
        assert received.size == 10


async def test_an_empty_body_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="file is empty"):
        await receive_to_tempfile(_stream([b"", b""]), directory=tmp_path, max_bytes=10)

    assert list(tmp_path.iterdir()) == []


async def test_a_failing_stream_leaves_nothing(tmp_path: Path) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await receive_to_tempfile(broken(), directory=tmp_path, max_bytes=100)

    assert list(tmp_path.iterdir()) == []
