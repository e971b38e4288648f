"""The file part of an upload as it arrives: sniffed from its first bytes, held to the limit
for its kind (image or video), and counted."""

from __future__ import annotations

from collections.abc import AsyncIterator

from wildlens.common.errors import PayloadTooLarge
from wildlens.ingest.media import Sniffed, sniff
from wildlens.ingest.media.sniff import SNIFF_BYTES
from wildlens.ingest.metrics import RECEIVED_BYTES
from wildlens.ingest.settings import IngestSettings

__all__ = ["SniffedStream"]


class SniffedStream:
    """Pass ``chunks`` through, deciding the media type once :data:`SNIFF_BYTES` have come.

    Until then only the larger of the two limits applies (a few KiB cannot exceed either);
    from then on the limit of the sniffed kind does, so a 200 MB "image" is refused after
    its first 64 MB rather than after 8 GB. Content that is no accepted type at all is
    refused from its first bytes, before the rest is read.

    Raises (while iterating):
        UnsupportedMedia, Invalid: from :func:`~wildlens.ingest.media.sniff`.
        PayloadTooLarge: the file passed the limit for its kind.
    """

    def __init__(self, chunks: AsyncIterator[bytes], limits: IngestSettings) -> None:
        self._chunks = chunks
        self._limits = limits
        self._head = bytearray()
        self._size = 0
        self.sniffed: Sniffed | None = None

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            if self.sniffed is None:
                # A file shorter than the sniff window (or empty: sniff says so).
                self._decide()
            raise
        RECEIVED_BYTES.inc(len(chunk))
        self._size += len(chunk)
        if self.sniffed is None:
            self._head += chunk[: SNIFF_BYTES - len(self._head)]
            if len(self._head) >= SNIFF_BYTES:
                self._decide()
        limit = self._limit()
        if self._size > limit:
            kind = self.sniffed.kind if self.sniffed is not None else "file"
            raise PayloadTooLarge(f"{kind} is larger than the limit of {limit} bytes")
        return chunk

    def _decide(self) -> None:
        self.sniffed = sniff(bytes(self._head))
        self._head = bytearray()

    def _limit(self) -> int:
        if self.sniffed is None:
            return max(self._limits.max_image_bytes, self._limits.max_video_bytes)
        if self.sniffed.kind == "image":
            return self._limits.max_image_bytes
        return self._limits.max_video_bytes
