"""Event contracts: the envelope every bus message travels in, and the payload registry."""

from wildlens.common.events.envelope import (
    EVENT_TYPES,
    Envelope,
    InvalidEnvelope,
    decode,
    encode,
    new_envelope,
    unpack,
)

__all__ = [
    "EVENT_TYPES",
    "Envelope",
    "InvalidEnvelope",
    "decode",
    "encode",
    "new_envelope",
    "unpack",
]
