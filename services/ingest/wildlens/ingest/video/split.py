"""Cut frames and clips out of a video, one piece at a time, in memory that does not grow.

Frames are taken every ``frame_interval_s`` seconds, clips are ``clip_seconds`` long and
re-encoded to H.264 MP4 (what Zooniverse plays, and exact at any cut point, where a remux
could only cut at keyframes). The video is read as a stream: nothing is held but the frame
being decoded and the piece being written, and each piece is handed to ``emit`` as a file on
disk before the next is made, so a transect of several gigabytes costs what a short clip does.

Blocking (PyAV decodes in C): run :func:`cut` in a worker thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import structlog

__all__ = ["SEEK_AHEAD_S", "Piece", "SplitPlan", "cut"]

log = structlog.get_logger(__name__)

# When the next frame wanted is further ahead than this, seeking to the keyframe before it is
# cheaper than decoding everything in between. Below it, decoding on is cheaper than the
# keyframe-to-target decode every seek costs.
SEEK_AHEAD_S = 10.0
_JPEG_QUALITY = 90
_CLIP_TIME_BASE = Fraction(1, 1000)


@dataclass(frozen=True, slots=True)
class SplitPlan:
    """What to cut: a frame every ``frame_interval_s`` (0: none), clips of ``clip_seconds``
    (0: none), and at most ``max_pieces`` of each."""

    frame_interval_s: float
    clip_seconds: float
    max_pieces: int

    @property
    def empty(self) -> bool:
        return self.frame_interval_s <= 0 and self.clip_seconds <= 0


@dataclass(frozen=True, slots=True)
class Piece:
    """One frame (JPEG) or clip (MP4) written to ``path``; ``offset_ms`` from the video's start."""

    kind: Literal["frame", "clip"]
    offset_ms: int
    path: Path
    width: int
    height: int

    @property
    def content_type(self) -> str:
        return "image/jpeg" if self.kind == "frame" else "video/mp4"


Emit = Callable[[Piece], None]


def cut(
    video: Path,
    plan: SplitPlan,
    workdir: Path,
    emit: Emit,
    *,
    seek_ahead_s: float = SEEK_AHEAD_S,
) -> int:
    """Cut ``video`` as ``plan`` says, calling ``emit`` with each piece in order of offset
    within its kind; returns how many pieces were emitted.

    ``emit`` must be done with the piece's file when it returns: the file is removed then.
    A video whose tail does not decode (a camera that lost power while recording) yields the
    pieces before the damage.

    Args:
        video: the video file.
        plan: what to cut.
        workdir: a folder for the piece being written.
        emit: takes each piece; an exception from it stops the cut and propagates.
        seek_ahead_s: seek rather than decode on when the next frame is further than this.
    """
    if plan.empty:
        return 0
    with av.open(str(video), mode="r") as container:
        stream = container.streams.video[0]
        # Frame threads decode in parallel; each holds one frame, so memory stays bounded.
        stream.thread_type = "AUTO"
        timing = _Timing.of(container, stream)
        if plan.clip_seconds > 0:
            # Clips need every frame decoded anyway; frames ride along in the same pass.
            frames = _sequential(container, stream, timing)
            return _cut_all(frames, stream, timing, plan, workdir, emit)
        targets = _targets(plan.frame_interval_s, timing.duration_s, plan.max_pieces)
        return _cut_frames(container, stream, timing, targets, workdir, emit, seek_ahead_s)


@dataclass(frozen=True, slots=True)
class _Timing:
    start_pts: int
    time_base: Fraction
    duration_s: float
    frame_s: float  # one frame's duration, for matching a frame to a wanted time

    @classmethod
    def of(cls, container: av.container.InputContainer, stream: av.VideoStream) -> _Timing:
        time_base = stream.time_base or Fraction(1, 1_000_000)
        if stream.duration is not None:
            duration_s = float(stream.duration * time_base)
        elif container.duration is not None:
            duration_s = container.duration / av.time_base
        else:
            duration_s = math.inf
        rate = stream.average_rate or stream.guessed_rate
        frame_s = 1.0 / float(rate) if rate else 0.04
        return cls(stream.start_time or 0, time_base, duration_s, frame_s)

    def seconds(self, frame: av.VideoFrame, fallback: float) -> float:
        if frame.pts is None:
            return fallback
        return float((frame.pts - self.start_pts) * self.time_base)


def _targets(interval_s: float, duration_s: float, limit: int) -> Iterator[float]:
    if interval_s <= 0:
        return
    n = 0
    while n < limit:
        # Integer steps, not a running sum: no drift over thousands of frames.
        target = n * interval_s
        if target >= duration_s:
            return
        yield target
        n += 1


def _decoded(frames: Iterator[av.VideoFrame]) -> Iterator[av.VideoFrame]:
    """``frames`` until the end, or until the data stops decoding."""
    try:
        yield from frames
    except av.FFmpegError as exc:
        log.warning("video.damaged_tail", error=str(exc))


def _sequential(
    container: av.container.InputContainer, stream: av.VideoStream, timing: _Timing
) -> Iterator[tuple[float, av.VideoFrame]]:
    for index, frame in enumerate(_decoded(container.decode(stream))):
        yield timing.seconds(frame, index * timing.frame_s), frame


def _cut_frames(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    timing: _Timing,
    targets: Iterator[float],
    workdir: Path,
    emit: Emit,
    seek_ahead_s: float,
) -> int:
    emitted = 0
    frames: Iterator[tuple[float, av.VideoFrame]] | None = None
    position = -math.inf
    for target in targets:
        if frames is None or target - position > seek_ahead_s:
            if frames is not None:
                # Seek to the keyframe at or before the target; decoding starts there.
                container.seek(
                    timing.start_pts + int(target / timing.time_base),
                    stream=stream,
                    backward=True,
                    any_frame=False,
                )
            frames = _sequential(container, stream, timing)
        for seconds, frame in frames:
            position = seconds
            if seconds >= target - timing.frame_s / 2:
                _emit_frame(frame, target, workdir, emit)
                emitted += 1
                break
        else:
            return emitted
    return emitted


def _cut_all(
    frames: Iterator[tuple[float, av.VideoFrame]],
    stream: av.VideoStream,
    timing: _Timing,
    plan: SplitPlan,
    workdir: Path,
    emit: Emit,
) -> int:
    targets = _targets(plan.frame_interval_s, timing.duration_s, plan.max_pieces)
    target = next(targets, None)
    clip: _ClipWriter | None = None
    clips = emitted = 0
    for seconds, frame in frames:
        if target is not None and seconds >= target - timing.frame_s / 2:
            _emit_frame(frame, target, workdir, emit)
            emitted += 1
            target = next(targets, None)
        index = int((seconds + timing.frame_s / 2) // plan.clip_seconds)
        if clip is not None and index != clip.index:
            clip.finish(emit)
            emitted += 1
            clip = None
        if clip is None and clips < plan.max_pieces:
            clip = _ClipWriter(index, plan.clip_seconds, stream, workdir)
            clips += 1
        if clip is not None:
            clip.add(frame, seconds)
        if target is None and clip is None and clips >= plan.max_pieces:
            break
    if clip is not None:
        clip.finish(emit)
        emitted += 1
    return emitted


def _emit_frame(frame: av.VideoFrame, target_s: float, workdir: Path, emit: Emit) -> None:
    offset_ms = round(target_s * 1000)
    path = workdir / f"frame-{offset_ms}.jpg"
    try:
        image = frame.to_image()  # type: ignore[no-untyped-call]
        image.save(path, format="JPEG", quality=_JPEG_QUALITY)
        emit(Piece("frame", offset_ms, path, image.width, image.height))
    finally:
        path.unlink(missing_ok=True)


class _ClipWriter:
    """One clip being encoded: H.264 in MP4, timestamps from the clip's own start."""

    def __init__(
        self, index: int, clip_seconds: float, source: av.VideoStream, workdir: Path
    ) -> None:
        self.index = index
        self.start_s = index * clip_seconds
        self.offset_ms = round(self.start_s * 1000)
        self.path = workdir / f"clip-{self.offset_ms}.mp4"
        # yuv420p needs even dimensions; drop the odd last row or column.
        self.width = max(2, source.codec_context.width // 2 * 2)
        self.height = max(2, source.codec_context.height // 2 * 2)
        rate = source.average_rate or source.guessed_rate or Fraction(25)
        self._output = av.open(str(self.path), mode="w", format="mp4")
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        self._stream: av.VideoStream = self._output.add_stream(codec, rate=rate)  # type: ignore[assignment]
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        self._stream.time_base = _CLIP_TIME_BASE
        if codec == "libx264":
            self._stream.codec_context.options = {"preset": "veryfast", "crf": "23"}
        self._last_pts = -1

    def add(self, frame: av.VideoFrame, seconds: float) -> None:
        pts = max(round((seconds - self.start_s) * 1000), 0)
        if pts <= self._last_pts:
            return  # a duplicate timestamp; the muxer needs strictly increasing ones
        self._last_pts = pts
        out = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        out.pts, out.time_base = pts, _CLIP_TIME_BASE
        for packet in self._stream.encode(out):
            self._output.mux(packet)

    def finish(self, emit: Emit) -> None:
        try:
            for packet in self._stream.encode(None):
                self._output.mux(packet)
            self._output.close()
            emit(Piece("clip", self.offset_ms, self.path, self.width, self.height))
        finally:
            self._output.close()
            self.path.unlink(missing_ok=True)
