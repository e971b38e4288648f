"""The envelope every bus message travels in."""

from __future__ import annotations

import uuid

import pytest

from wildlens.common.events import InvalidEnvelope, decode, encode, new_envelope, unpack
from wildlens.common.events.v1.media_pb2 import MediaAnalyzed, MediaRecorded


def test_round_trip_keeps_every_field() -> None:
    payload = MediaRecorded(media_id="m1", project_id="p1", object_key="media/ab/abc.jpg")
    envelope = new_envelope(payload, producer="catalogue@test", trace={"request_id": "r1"})
    back = decode(encode(envelope))
    assert back == envelope
    assert back.type == "media.recorded"
    assert back.occurred_at.utcoffset() is not None
    assert unpack(back, MediaRecorded) == payload


def test_payload_of_another_type_is_refused() -> None:
    envelope = new_envelope(MediaRecorded(media_id="m1"), producer="t")
    with pytest.raises(InvalidEnvelope, match="does not carry MediaAnalyzed"):
        unpack(envelope, MediaAnalyzed)


@pytest.mark.parametrize("data", [b"", b"\xff\xfe garbage", b"\x0a\x03abc"])
def test_garbage_is_not_an_envelope(data: bytes) -> None:
    with pytest.raises(InvalidEnvelope):
        decode(data)


def test_each_envelope_gets_a_fresh_random_uuid() -> None:
    ids = [new_envelope(MediaAnalyzed(media_id="m1"), producer="t").event_id for _ in range(200)]
    assert len(set(ids)) == len(ids)
    for event_id in ids:
        parsed = uuid.UUID(event_id)
        assert str(parsed) == event_id
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
