"""A ``multipart/form-data`` body read part by part as it arrives, in bounded memory.

Starlette's form parsing spools every file part to disk (or memory) before the endpoint runs,
so a size limit could only be enforced after the whole body was in. Here the body is fed to
python-multipart's push parser chunk by chunk and each part's data is handed on as it comes,
so the caller can hash, sniff and refuse a file while it is still arriving.

    form = MultipartReader(request.stream(), boundary)
    while (part := await form.next_part()) is not None:
        if part.name == "file":
            async for chunk in part: ...
        else:
            value = await part.text(limit=8192)
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from wildlens.common.errors import FieldError, Invalid

__all__ = ["MultipartReader", "Part", "boundary_of"]

_Event = tuple[Literal["begin", "data", "end"], bytes]


def boundary_of(content_type: str | None) -> bytes | None:
    """The boundary of a ``multipart/form-data`` content type; ``None`` for anything else."""
    if not content_type:
        return None
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        return None
    boundary = options.get(b"boundary")
    if not boundary:
        raise Invalid("the multipart/form-data content type has no boundary")
    return boundary


@dataclass
class Part:
    """One part of the body. Iterate it for its data, which arrives as the body does."""

    name: str
    filename: str | None
    content_type: str
    _reader: MultipartReader = field(repr=False)
    _done: bool = field(default=False, repr=False)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._done:
            raise StopAsyncIteration
        kind, data = await self._reader._next_event()
        if kind == "data":
            return data
        if kind == "end":
            self._done = True
            raise StopAsyncIteration
        raise Invalid("the multipart body is malformed: a part starts inside another")

    async def text(self, *, limit: int) -> str:
        """The whole part as UTF-8 text, refused when longer than ``limit`` bytes."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in self:
            size += len(chunk)
            if size > limit:
                raise Invalid(
                    f"form field {self.name!r} is longer than {limit} bytes",
                    fields=[_field_error(self.name, f"longer than {limit} bytes", "too_long")],
                )
            chunks.append(chunk)
        try:
            return b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid(
                f"form field {self.name!r} is not UTF-8 text",
                fields=[_field_error(self.name, "not UTF-8 text", "unicode_error")],
            ) from exc

    async def drain(self, *, limit: int | None = None) -> None:
        """Skip the rest of the part; refused when it is longer than ``limit`` bytes."""
        size = 0
        async for chunk in self:
            size += len(chunk)
            if limit is not None and size > limit:
                raise Invalid(
                    f"part {self.name!r} is longer than {limit} bytes",
                    fields=[_field_error(self.name, f"longer than {limit} bytes", "too_long")],
                )


class MultipartReader:
    """Parts of a ``multipart/form-data`` body, read from ``chunks`` as the caller asks.

    Args:
        chunks: the raw request body as it arrives (``request.stream()``).
        boundary: from :func:`boundary_of`.
        max_parts: more parts than this is refused (a body of a million tiny parts).

    Raises (from :meth:`next_part` and while iterating a part):
        Invalid: the body is not well-formed multipart, or ends before its closing boundary.
    """

    def __init__(self, chunks: AsyncIterator[bytes], boundary: bytes, *, max_parts: int = 32):
        self._chunks = chunks
        self._events: deque[_Event] = deque()
        self._header_name = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, str] = {}
        # One write may carry several parts: each part's headers wait here for its turn.
        self._part_headers: deque[dict[str, str]] = deque()
        self._ended = False
        self._exhausted = False
        self._parts = 0
        self._max_parts = max_parts
        self._current: Part | None = None
        self._parser = MultipartParser(
            boundary,
            callbacks={
                "on_part_begin": self._on_part_begin,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_end": self._on_end,
            },
        )

    async def next_part(self) -> Part | None:
        """The next part (the rest of the current one is skipped); ``None`` after the last."""
        if self._current is not None and not self._current._done:
            await self._current.drain()
        self._current = None
        while True:
            try:
                kind, _ = await self._next_event()
            except StopAsyncIteration:
                return None
            if kind == "begin":
                break
            # Data outside any part can only be the preamble, which the parser drops.
        self._parts += 1
        if self._parts > self._max_parts:
            raise Invalid(f"the multipart body has more than {self._max_parts} parts")
        self._current = _part_from_headers(self._part_headers.popleft(), self)
        return self._current

    async def _next_event(self) -> _Event:
        while not self._events:
            if self._exhausted:
                raise StopAsyncIteration
            try:
                chunk = await anext(self._chunks)
            except StopAsyncIteration:
                self._exhausted = True
                self._parser.finalize()
                if not self._ended:
                    raise Invalid(
                        "the multipart body ended before its closing boundary (a truncated upload?)"
                    ) from None
                continue
            if self._ended:
                continue  # the epilogue after the closing boundary carries nothing
            try:
                self._parser.write(chunk)
            except MultipartParseError as exc:
                raise Invalid(f"the multipart body is malformed: {exc}") from exc
        return self._events.popleft()

    # python-multipart's callbacks run inside ``write``; they only queue events, which the
    # async side hands out in order.

    def _on_part_begin(self) -> None:
        self._headers = {}

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        name = self._header_name.decode("latin-1").strip().lower()
        # Latin-1 keeps every byte; names are decoded as UTF-8 once the header is parsed.
        self._headers[name] = self._header_value.decode("latin-1").strip()
        self._header_name.clear()
        self._header_value.clear()

    def _on_headers_finished(self) -> None:
        self._part_headers.append(self._headers)
        self._events.append(("begin", b""))

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if end > start:
            self._events.append(("data", bytes(data[start:end])))

    def _on_part_end(self) -> None:
        self._events.append(("end", b""))

    def _on_end(self) -> None:
        self._ended = True


def _part_from_headers(headers: dict[str, str], reader: MultipartReader) -> Part:
    disposition = headers.get("content-disposition")
    kind, options = parse_options_header(disposition)
    name = options.get(b"name")
    if kind != b"form-data" or name is None:
        raise Invalid(
            "the multipart body is malformed: a part has no Content-Disposition: form-data "
            "with a name"
        )
    filename = options.get(b"filename")
    content_type, _ = parse_options_header(headers.get("content-type"))
    # Browsers and curl send names as raw UTF-8; a stray byte must not fail the upload.
    return Part(
        name=name.decode("utf-8", errors="replace"),
        filename=filename.decode("utf-8", errors="replace") if filename is not None else None,
        content_type=content_type.decode("latin-1") or "text/plain",
        _reader=reader,
    )


def _field_error(name: str, message: str, kind: str) -> FieldError:
    return FieldError(location=["body", name], message=message, type=kind)
