"""Encoding and decoding of the bus envelope (``proto/wildlens/v1/envelope.proto``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from google.protobuf.message import DecodeError, Message

from wildlens.common.events.v1 import (
    citsci_pb2,
    devices_pb2,
    envelope_pb2,
    inference_pb2,
    ingest_pb2,
    media_pb2,
    observations_pb2,
    taxonomy_pb2,
    training_pb2,
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

M = TypeVar("M", bound=Message)

# Event type (the routing key) → (payload message, schema version).
EVENT_TYPES: dict[str, tuple[type[Message], int]] = {
    "media.ingested": (media_pb2.MediaIngested, 1),
    "media.recorded": (media_pb2.MediaRecorded, 1),
    "media.analyzed": (media_pb2.MediaAnalyzed, 1),
    "media.deleted": (media_pb2.MediaDeleted, 1),
    "media.imported": (media_pb2.MediaImported, 1),
    "device.revoked": (devices_pb2.DeviceRevoked, 1),
    "ingest.derivatives.requested": (ingest_pb2.DerivativesRequested, 1),
    "ingest.video.requested": (ingest_pb2.VideoSplitRequested, 1),
    "taxonomy.changed": (taxonomy_pb2.TaxonomyChanged, 1),
    "inference.requested": (inference_pb2.InferenceRequested, 1),
    "model.promoted": (inference_pb2.ModelPromoted, 1),
    "training.requested": (training_pb2.TrainingRequested, 1),
    "model.trained": (training_pb2.ModelTrained, 1),
    "observations.changed": (observations_pb2.ObservationsChanged, 1),
    "citsci.consensus": (citsci_pb2.CitsciConsensus, 1),
}


class InvalidEnvelope(ValueError):
    """The bytes are not an envelope, or its payload is not the message its type names."""


@dataclass(frozen=True)
class Envelope:
    event_id: str
    type: str
    schema_version: int
    occurred_at: datetime
    producer: str
    payload: bytes
    trace: dict[str, str] = field(default_factory=dict)


# Payload class → (event type, schema version): one look-up per envelope.
_TYPE_OF: dict[type[Message], tuple[str, int]] = {
    cls: (event_type, version) for event_type, (cls, version) in EVENT_TYPES.items()
}


def new_envelope(
    payload: Message, *, producer: str, trace: dict[str, str] | None = None
) -> Envelope:
    """Wrap a payload; its event type is looked up from the message class."""
    found = _TYPE_OF.get(type(payload))
    if found is None:
        found = next(
            ((t, v) for t, (cls, v) in EVENT_TYPES.items() if isinstance(payload, cls)), None
        )
    if found is None:
        raise TypeError(f"{type(payload).__name__} is not a registered event payload")
    event_type, version = found
    return Envelope(
        event_id=str(uuid.uuid4()),
        type=event_type,
        schema_version=version,
        occurred_at=datetime.now(UTC),
        producer=producer,
        payload=payload.SerializeToString(),
        trace=dict(trace) if trace else {},
    )


def encode(envelope: Envelope) -> bytes:
    message = envelope_pb2.Envelope(
        event_id=envelope.event_id,
        type=envelope.type,
        schema_version=envelope.schema_version,
        producer=envelope.producer,
        payload=envelope.payload,
    )
    message.occurred_at.FromDatetime(envelope.occurred_at)
    message.trace.update(envelope.trace)
    return message.SerializeToString()


def decode(data: bytes) -> Envelope:
    message = envelope_pb2.Envelope()
    try:
        message.ParseFromString(data)
    except DecodeError as exc:
        raise InvalidEnvelope(f"not a wildlens.v1.Envelope: {exc}") from exc
    if not message.event_id or not message.type:
        raise InvalidEnvelope("envelope without event_id or type")
    return Envelope(
        event_id=message.event_id,
        type=message.type,
        schema_version=message.schema_version,
        occurred_at=message.occurred_at.ToDatetime(tzinfo=UTC),
        producer=message.producer,
        payload=message.payload,
        trace=dict(message.trace),
    )


def unpack(envelope: Envelope, cls: type[M]) -> M:
    """Parse the payload as ``cls``, checking that the envelope's type names that class."""
    expected = EVENT_TYPES.get(envelope.type)
    if expected is None or expected[0] is not cls:
        raise InvalidEnvelope(f"event {envelope.type!r} does not carry {cls.__name__}")
    message = cls()
    try:
        message.ParseFromString(envelope.payload)
    except DecodeError as exc:
        raise InvalidEnvelope(f"payload of {envelope.type} is not a {cls.__name__}: {exc}") from exc
    return message
