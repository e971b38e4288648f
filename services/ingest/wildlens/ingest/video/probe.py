"""Check that an upload sniffed as video really plays, reading only its headers and one frame.

A container can be well formed and still hold nothing we can use: no video stream (an audio
recording renamed ``.mp4``), a codec this server cannot decode, or an index that points past
the end of a truncated file. Those are refused at upload with a 422 rather than stored and
found broken later by the frame cutter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from wildlens.common.errors import Invalid

__all__ = ["VideoInfo", "probe_video"]

# How many packets to read looking for the first decodable frame: enough for B-frame
# reordering and a few undecodable leading packets, never the whole file.
_FIRST_FRAME_PACKETS = 120


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What the container and the first video stream say about a video."""

    duration_s: float
    fps: float
    codec: str
    width: int
    height: int


def probe_video(path: Path) -> VideoInfo:
    """Open the video at ``path``, read its stream parameters and decode its first frame.

    Blocking: run it in a worker thread.

    Raises:
        Invalid: "not a playable video: ..." with the reason (unreadable container, no video
            stream, no duration, nothing decodable).
    """
    try:
        container = av.open(str(path), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise Invalid(
            f"not a playable video: the container cannot be read ({_reason(exc)})"
        ) from exc
    with container:
        if not container.streams.video:
            raise Invalid("not a playable video: the file has no video stream")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        width, height = stream.codec_context.width, stream.codec_context.height
        duration_s = _duration_s(container, stream)
        if duration_s is None or duration_s <= 0:
            raise Invalid("not a playable video: the video has no duration")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        try:
            frame = _first_frame(container, stream)
        except (av.FFmpegError, ValueError) as exc:
            raise Invalid(
                f"not a playable video: the {codec} stream does not decode ({_reason(exc)})"
            ) from exc
        if frame is None:
            raise Invalid(f"not a playable video: no frame of the {codec} stream decodes")
        return VideoInfo(
            duration_s=duration_s,
            fps=fps,
            codec=codec,
            width=width or frame.width,
            height=height or frame.height,
        )


def _duration_s(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _first_frame(
    container: av.container.InputContainer, stream: av.VideoStream
) -> av.VideoFrame | None:
    for count, packet in enumerate(container.demux(stream)):
        for frame in packet.decode():
            if isinstance(frame, av.VideoFrame):
                return frame
        if count >= _FIRST_FRAME_PACKETS:
            break
    # Decoders holding frames back for reordering give them up when flushed.
    for frame in stream.codec_context.decode(None):
        if isinstance(frame, av.VideoFrame):
            return frame
    return None


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).strip().rstrip(".")
