"""Peak memory of ingest while a large video streams through ``POST /v1/media`` and is cut.

For each size, a fresh embedded platform (``wildlens up``, uvicorn, SQLite, local store) runs in
a subprocess; one generated H.264 MP4 of that size is posted to it, and the run waits until
the video has been cut into frames (its manifest is stored). The process's peak resident
memory (``VmHWM`` in ``/proc/<pid>/status``) is then read. The baseline is the same run with a
video a tenth of the size: if memory does not grow with the video, the ratio is about 1.

    python bench/ingest_video.py [--size 2G] [--baseline 200M] [--frame-interval 10]

The video is one GOP of 640x360 noise encoded once at a high bit rate and repeated (packets
copied with new timestamps), so gigabytes are written in seconds and every repeat starts on a
keyframe. The last line reads ``peak RSS 2GB video: <MB> MB, ratio R``
(R = peak at ``--size`` / peak at ``--baseline``).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np

BIN = Path(sys.executable).parent
FPS = 25
GOP = 250  # ten seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def label(size: int) -> str:
    return f"{size / (1 << 30):g}GB" if size >= 1 << 30 else f"{size / (1 << 20):g}MB"


def encode_gop(path: Path, width: int = 640, height: int = 360) -> None:
    """One GOP (ten seconds) of noise, H.264 at a high bit rate, as an MP4 at ``path``."""
    rng = np.random.default_rng(7)
    with av.open(str(path), "w", format="mp4") as output:
        stream = output.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = GOP
        # No B-frames: decode order is presentation order, so repeats keep valid timestamps.
        stream.codec_context.options = {"preset": "ultrafast", "qp": "8", "bf": "0"}
        for n in range(GOP):
            pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = n
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)


def write_video(path: Path, size: int, gop_file: Path) -> None:
    """Repeat the GOP in ``gop_file`` with new timestamps until ``path`` is about ``size``."""
    with av.open(str(gop_file)) as source, av.open(str(path), "w", format="mp4") as output:
        template = source.streams.video[0]
        packets = [
            (bytes(p), p.is_keyframe, int(p.pts or 0)) for p in source.demux(template) if p.size
        ]
        first = packets[0][2]
        tick = Fraction(template.time_base or Fraction(1, FPS))
        step = round(1 / (FPS * tick))
        gop_bytes = sum(len(p) for p, _, _ in packets)
        out = output.add_stream_from_template(template)
        for r in range(max(1, size // gop_bytes)):
            for payload, keyframe, pts in packets:
                packet = av.Packet(payload)
                packet.stream = out
                packet.time_base = tick
                packet.pts = packet.dts = r * GOP * step + pts - first
                packet.is_keyframe = keyframe
                packet.duration = step
                output.mux(packet)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def run_one(video: Path, frame_interval: float, workdir: Path) -> tuple[float, float, float]:
    """(peak RSS MB, upload seconds, upload+cut seconds) for one fresh platform."""
    data = workdir / "data"
    port = free_port()
    env = {
        **os.environ,
        "WILDLENS_INGEST__VIDEO_FRAME_INTERVAL_S": str(frame_interval),
        "WILDLENS_INGEST__VIDEO_CLIP_SECONDS": "0",
        "WILDLENS_LOG_LEVEL": "WARNING",
        "TMPDIR": str(workdir),
    }
    server = subprocess.Popen(
        [str(BIN / "wildlens"), "up", "--port", str(port), "--data", str(data)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=None) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the platform did not start")
                time.sleep(0.2)
            from wildlens.common.auth import TokenIssuer, load_keyring
            from wildlens.common.settings import Settings

            settings = Settings(mode="embedded", data_dir=data)
            token = TokenIssuer(load_keyring(settings), settings.auth.issuer).user_token(
                "bench", {"*": "admin"}
            )
            headers = {"Authorization": f"Bearer {token}"}
            project = client.post("/v1/projects", json={"name": "bench"}, headers=headers)
            project.raise_for_status()
            started = time.monotonic()
            with video.open("rb") as fh:
                response = client.post(
                    "/v1/media",
                    files={"file": ("transect.mp4", fh, "video/mp4")},
                    data={"project_id": project.json()["id"]},
                    headers=headers,
                )
            uploaded = time.monotonic() - started
            if response.status_code != 202:
                raise RuntimeError(f"upload refused: {response.status_code} {response.text}")
            sha = response.json()["sha256"]
            while not list(data.rglob(f"frames/{sha}/manifest.json")):
                if server.poll() is not None:
                    raise RuntimeError("the platform stopped while cutting")
                time.sleep(0.5)
            done = time.monotonic() - started
        return peak_rss_mb(server.pid), uploaded, done
    finally:
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="2G", help="size of the large video (default 2G)")
    parser.add_argument("--baseline", default="200M", help="size of the small video")
    parser.add_argument(
        "--frame-interval", type=float, default=10.0, help="seconds between frames cut"
    )
    args = parser.parse_args()
    sizes = [parse_size(args.baseline), parse_size(args.size)]
    gop_dir = tempfile.TemporaryDirectory(prefix="wildlens-bench-gop-")
    gop = Path(gop_dir.name) / "gop.mp4"
    encode_gop(gop)
    peaks: list[float] = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="wildlens-bench-video-") as folder:
            workdir = Path(folder)
            video = workdir / "transect.mp4"
            write_video(video, size, gop)
            actual = video.stat().st_size
            peak, uploaded, done = run_one(video, args.frame_interval, workdir)
            peaks.append(peak)
            print(
                f"{label(size)} video ({actual / (1 << 20):.0f} MiB): peak RSS {peak:.0f} MB, "
                f"upload {uploaded:.1f} s ({actual / (1 << 20) / uploaded:.0f} MiB/s), "
                f"upload + cut {done:.1f} s",
                flush=True,
            )
    gop_dir.cleanup()
    print(f"peak RSS {label(sizes[1])} video: {peaks[1]:.0f} MB, ratio {peaks[1] / peaks[0]:.2f}")


if __name__ == "__main__":
    main()
