"""Is this file an ONNX model? Answered without ONNX or ONNX Runtime, in constant memory.

An ONNX file is one serialised ``ModelProto`` (protocol buffers). Its top level is a sequence
of fields, each a tag (field number and wire type) and a value; reading only the tags and
skipping over the values (the graph and its weights are one length-delimited field) walks a
file of hundreds of megabytes in a few reads. A model must carry its IR version (field 1),
its graph (field 7) and the operator sets it uses (field 8), and the fields must end exactly
where the file ends: a JPEG, a zip (a PyTorch checkpoint) or a truncated export fails here,
before anything is stored. Whether the graph runs is for ONNX Runtime to say, where it loads.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from wildlens.common.bundles._bundle import MODEL_FILE, BundleError

__all__ = ["check_onnx_file"]

_IR_VERSION, _GRAPH, _OPSET_IMPORT = 1, 7, 8
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
# ModelProto's field numbers stop well below this; a larger one means the bytes are not ONNX.
_MAX_FIELD = 64
# IR versions published so far are 1 to 11; leave room for the next ones, not for garbage.
_MAX_IR_VERSION = 100


class _NotOnnx(Exception):
    """The bytes stop making sense as a ModelProto; the message says where."""


def _varint(handle: BinaryIO) -> int | None:
    """The next varint, or None at the end of the file (before its first byte)."""
    value = shift = 0
    while True:
        byte = handle.read(1)
        if not byte:
            if shift == 0:
                return None
            raise _NotOnnx("the file ends inside a field header")
        value |= (byte[0] & 0x7F) << shift
        if byte[0] < 0x80:
            return value
        shift += 7
        if shift > 63:
            raise _NotOnnx("a field header is longer than protocol buffers allow")


def _walk(handle: BinaryIO, size: int) -> dict[int, int]:
    """Top-level field numbers and how often each occurs; the IR version under -1."""
    seen: dict[int, int] = {}
    while True:
        tag = _varint(handle)
        if tag is None:
            return seen
        field, wire = tag >> 3, tag & 7
        if not 0 < field <= _MAX_FIELD:
            raise _NotOnnx(f"field number {field} at byte {handle.tell()} is not ModelProto's")
        if wire == _VARINT:
            value = _varint(handle)
            if value is None:
                raise _NotOnnx("the file ends inside a value")
            if field == _IR_VERSION:
                seen[-1] = value
        elif wire in (_I64, _I32):
            step = 8 if wire == _I64 else 4
            if handle.tell() + step > size:
                raise _NotOnnx("the file ends inside a value")
            handle.seek(step, 1)
        elif wire == _LEN:
            length = _varint(handle)
            if length is None or handle.tell() + length > size:
                raise _NotOnnx(f"field {field} runs past the end of the file (truncated?)")
            handle.seek(length, 1)
        else:
            raise _NotOnnx(f"wire type {wire} at byte {handle.tell()} is not used by ONNX")
        if field in (_IR_VERSION, _GRAPH) and field in seen:
            raise _NotOnnx(f"field {field} occurs twice")
        seen[field] = seen.get(field, 0) + 1


def check_onnx_file(path: Path) -> None:
    """Refuse a file that is not a whole ONNX model.

    Raises:
        BundleError: the file is empty, is not a serialised ModelProto, is truncated, or lacks
            the IR version, the graph or the operator sets.
    """
    size = path.stat().st_size
    if size == 0:
        raise BundleError(f"{MODEL_FILE} is empty")
    try:
        with path.open("rb") as handle:
            seen = _walk(handle, size)
    except _NotOnnx as exc:
        raise BundleError(f"{MODEL_FILE} is not an ONNX model: {exc}") from None
    missing = [
        what
        for field, what in (
            (_IR_VERSION, "its IR version"),
            (_GRAPH, "a graph"),
            (_OPSET_IMPORT, "its operator sets"),
        )
        if field not in seen
    ]
    if missing:
        raise BundleError(f"{MODEL_FILE} is not an ONNX model: it has no {', '.join(missing)}")
    if not 0 < seen[-1] <= _MAX_IR_VERSION:
        raise BundleError(f"{MODEL_FILE} is not an ONNX model: IR version {seen[-1]}")
