"""Short, deterministic test videos written with PyAV.

Every frame shows a white square that moves one step per frame across a dark background and
the frame number in its top-left corner, so a frame cut from the video can be traced back to
the position it came from (:func:`square_x` says where the square is in frame ``n``).
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import numpy as np
from PIL import Image, ImageDraw

Container = Literal["mp4", "mov", "avi"]

# Container → (PyAV format name, codec). h264 where the container is usually h264 in the
# field (trail cameras, GoPros); MPEG-4 Part 2 in AVI, as older trail cameras write it.
_FORMATS: dict[Container, tuple[str, str]] = {
    "mp4": ("mp4", "libx264"),
    "mov": ("mov", "libx264"),
    "avi": ("avi", "mpeg4"),
}
SQUARE = 24


def square_x(frame_number: int, width: int) -> int:
    """Left edge of the square in frame ``frame_number``."""
    return (frame_number * 4) % (width - SQUARE)


def draw_frame(frame_number: int, width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), (20, 40, 70))
    draw = ImageDraw.Draw(image)
    x = square_x(frame_number, width)
    top = height // 2 - SQUARE // 2
    draw.rectangle((x, top, x + SQUARE - 1, top + SQUARE - 1), fill=(255, 255, 255))
    draw.text((4, 4), f"{frame_number:05d}", fill=(255, 255, 0))
    return image


def write_video(
    path: Path,
    *,
    container: Container = "mp4",
    seconds: float = 3.0,
    fps: int = 10,
    width: int = 160,
    height: int = 120,
    gop: int | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Write a ``seconds`` long video of the moving square to ``path``, with the container
    ``metadata`` given (MP4's ``location``, ISO 6709, is where a camera writes its GPS fix);
    returns ``path``."""
    fmt, codec = _FORMATS[container]
    with av.open(str(path), mode="w", format=fmt) as output:
        output.metadata.update(metadata or {})
        stream = output.add_stream(codec, rate=fps)
        assert isinstance(stream, av.VideoStream)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        if gop is not None:
            stream.codec_context.gop_size = gop
        if codec == "libx264":
            # Identical bytes on every run: no threads racing in the encoder.
            stream.codec_context.options = {"preset": "ultrafast", "threads": "1"}
        for n in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(
                np.asarray(draw_frame(n, width, height)), format="rgb24"
            )
            frame.pts = n
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return path


def video_bytes(container: Container = "mp4", **options: Any) -> bytes:
    """The bytes of :func:`write_video`'s video, for posting."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / f"clip.{container}"
        write_video(target, container=container, **options)
        return target.read_bytes()


def audio_only_mp4(path: Path) -> Path:
    """An MP4 file with one AAC audio stream and no video stream."""
    with av.open(str(path), mode="w", format="mp4") as output:
        stream = output.add_stream("aac", rate=8000)
        frame_size = 1024
        for n in range(10):
            frame = av.AudioFrame(format="fltp", layout="mono", samples=frame_size)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate = 8000
            frame.pts = n * frame_size
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return path
