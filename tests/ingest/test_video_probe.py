"""Probing uploads sniffed as video: real videos pass with their parameters, others are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.videos import Container, audio_only_mp4, write_video
from wildlens.common.errors import Invalid
from wildlens.ingest.video import probe_video


@pytest.mark.parametrize(
    ("container", "codec"), [("mp4", "h264"), ("mov", "h264"), ("avi", "mpeg4")]
)
def test_a_real_video_reports_duration_rate_codec_and_size(
    tmp_path: Path, container: Container, codec: str
) -> None:
    path = write_video(
        tmp_path / f"v.{container}",
        container=container,
        seconds=2,
        fps=10,
        width=96,
        height=64,
    )
    info = probe_video(path)
    assert info.duration_s == pytest.approx(2.0, abs=0.15)
    assert info.fps == pytest.approx(10)
    assert info.codec == codec
    assert (info.width, info.height) == (96, 64)


def test_a_file_without_a_video_stream_is_not_playable(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="not a playable video: the file has no video stream"):
        probe_video(audio_only_mp4(tmp_path / "song.mp4"))


def test_a_truncated_mp4_is_not_playable(tmp_path: Path) -> None:
    whole = write_video(tmp_path / "v.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    # The index (moov) comes last in what PyAV writes: half a file has none.
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(Invalid, match="not a playable video"):
        probe_video(cut)


def test_garbage_behind_a_video_signature_is_not_playable(tmp_path: Path) -> None:
    fake = tmp_path / "fake.avi"
    fake.write_bytes(b"RIFF\x00\x10\x00\x00AVI LIST" + bytes(4000))
    with pytest.raises(Invalid, match="not a playable video"):
        probe_video(fake)
