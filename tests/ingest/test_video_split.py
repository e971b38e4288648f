"""Cutting frames and clips: the right moments, the same result by seeking or decoding on,
one piece at a time."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from PIL import Image

from tests.support.videos import Container, square_x, write_video
from wildlens.ingest.video import Piece, SplitPlan, cut

FPS, WIDTH, HEIGHT = 10, 160, 120


def _square_left(path: Path) -> int:
    """Where the white square starts in a cut frame (its leftmost bright column)."""
    with Image.open(path) as image:
        grey = image.convert("L")
        row = HEIGHT // 2
        columns = [x for x in range(WIDTH) if grey.getpixel((x, row)) > 200]  # type: ignore[operator]
    assert columns, "no square in the frame"
    return min(columns)


def _cut(
    video: Path, plan: SplitPlan, workdir: Path, **options: float
) -> list[tuple[Piece, bytes]]:
    pieces: list[tuple[Piece, bytes]] = []

    def emit(piece: Piece) -> None:
        # On disk at any time: the piece being handed over and at most the clip in progress.
        names = {p.name for p in workdir.iterdir()}
        assert piece.path.name in names
        assert len(names) <= 2
        pieces.append((piece, piece.path.read_bytes()))

    cut(video, plan, workdir, emit, **options)
    assert list(workdir.iterdir()) == []
    return pieces


@pytest.mark.parametrize("container", ["mp4", "mov", "avi"])
def test_frames_are_cut_at_each_interval_from_the_right_moment(
    tmp_path: Path, container: Container
) -> None:
    video = write_video(tmp_path / f"v.{container}", container=container, seconds=3, fps=FPS)
    work = tmp_path / "work"
    work.mkdir()
    pieces = _cut(video, SplitPlan(frame_interval_s=1, clip_seconds=0, max_pieces=100), work)
    assert [(p.kind, p.offset_ms) for p, _ in pieces] == [
        ("frame", 0),
        ("frame", 1000),
        ("frame", 2000),
    ]
    for piece, data in pieces:
        assert data[:3] == b"\xff\xd8\xff"
        assert (piece.width, piece.height) == (WIDTH, HEIGHT)
        (tmp_path / "f.jpg").write_bytes(data)
        expected = square_x(piece.offset_ms * FPS // 1000, WIDTH)
        assert abs(_square_left(tmp_path / "f.jpg") - expected) <= 2


def test_seeking_ahead_gives_the_same_frames_as_decoding_on(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", seconds=12, fps=FPS, gop=20)
    plan = SplitPlan(frame_interval_s=2.5, clip_seconds=0, max_pieces=100)
    work = tmp_path / "work"
    work.mkdir()
    decoded = _cut(video, plan, work, seek_ahead_s=1000)
    sought = _cut(video, plan, work, seek_ahead_s=0)
    assert [p.offset_ms for p, _ in sought] == [0, 2500, 5000, 7500, 10000]
    assert [d for _, d in sought] == [d for _, d in decoded]


def test_clips_cover_the_video_in_order_and_frames_ride_along(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", container="avi", seconds=3, fps=FPS)
    work = tmp_path / "work"
    work.mkdir()
    pieces = _cut(video, SplitPlan(frame_interval_s=1, clip_seconds=2, max_pieces=100), work)
    clips = [(p, d) for p, d in pieces if p.kind == "clip"]
    assert [p.offset_ms for p, _ in clips] == [0, 2000]
    assert [p.offset_ms for p, _ in pieces if p.kind == "frame"] == [0, 1000, 2000]
    frames_per_clip = []
    for piece, data in clips:
        assert piece.content_type == "video/mp4"
        (tmp_path / "c.mp4").write_bytes(data)
        with av.open(str(tmp_path / "c.mp4")) as clip:
            assert clip.streams.video[0].codec_context.name == "h264"
            frames = list(clip.decode(video=0))
        frames_per_clip.append(len(frames))
        # The clip starts where it says: its first frame shows the square of that moment.
        frames[0].save(tmp_path / "first.jpg")
        expected = square_x(piece.offset_ms * FPS // 1000, WIDTH)
        assert abs(_square_left(tmp_path / "first.jpg") - expected) <= 2
    assert frames_per_clip == [20, 10]


def test_the_number_of_pieces_is_capped(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", seconds=3, fps=FPS)
    work = tmp_path / "work"
    work.mkdir()
    pieces = _cut(video, SplitPlan(frame_interval_s=0.5, clip_seconds=1, max_pieces=2), work)
    assert [(p.kind, p.offset_ms) for p, _ in pieces] == [
        ("frame", 0),
        ("frame", 500),
        ("clip", 0),
        ("clip", 1000),
    ]


def test_nothing_is_cut_when_both_are_off(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", seconds=1)
    work = tmp_path / "work"
    work.mkdir()
    assert _cut(video, SplitPlan(0, 0, 10), work) == []


def test_an_error_while_storing_stops_the_cut_and_leaves_no_file(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", seconds=3)
    work = tmp_path / "work"
    work.mkdir()

    def emit(piece: Piece) -> None:
        raise ConnectionError("store went away")

    with pytest.raises(ConnectionError):
        cut(video, SplitPlan(1, 1, 10), work, emit)
    assert list(work.iterdir()) == []
