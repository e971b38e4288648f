"""Hostile imports against ``wildlens up``: what each costs the process that refuses it.

``wildlens up`` runs as its own process on a fresh data folder, with the default limits; each
hostile request is sent once, while a thread asks ``/healthz`` every 10 ms. For each: the
answer, its time, the longest wait for ``/healthz``, and the process's peak memory (VmHWM)
(so far) and the bytes left in its temporary folder afterwards. The requests:

* the probe's zip bomb: a Camtrap DP package of 3 MB whose observations.csv unpacks to 3 GiB;
* a bomb whose headers tell the truth about a size within the limits (512 MiB of zeros), so
  that it is unpacked until the compression ratio stops it;
* the largest JSON document read whole (16 MiB of COCO), refused for a missing location on
  every image after it has been parsed and checked;
* a 60 MB JSON body.

    python bench/hostile_imports.py

The last line reads ``peak memory of the 3 GiB zip bomb import: <MiB> MiB (<MiB> MiB before)``.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.camtrapdp import EXAMPLE  # noqa: E402
from tests.support.hostile import Entry, deflate_zeros, raw_zip  # noqa: E402
from wildlens.common.auth import TokenIssuer, load_keyring  # noqa: E402
from wildlens.common.settings import Settings  # noqa: E402

MiB = 1 << 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _memory(pid: int) -> dict[str, int]:
    """VmHWM (peak resident) and VmRSS of ``pid``, in MiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = int(value.split()[0]) // 1024
    return found


def _disk(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _camtrap_bomb() -> bytes:
    entries = []
    for name in ("datapackage.json", "deployments.csv", "media.csv"):
        data = (EXAMPLE / name).read_bytes()
        entries.append(Entry(name, data, len(data), zlib.crc32(data), zipfile.ZIP_STORED))
    bomb = deflate_zeros(3 << 30)
    entries.append(Entry("observations.csv", bomb.data, bomb.size, bomb.crc))
    return raw_zip(*entries)


def _coco(size: int) -> bytes:
    images, n = [], 0
    document = {"images": images, "categories": [], "annotations": []}
    while True:
        images.extend({"id": n + k, "file_name": f"{n + k}.jpg"} for k in range(10_000))
        n += 10_000
        data = json.dumps(document).encode()
        if len(data) > size:
            images[:] = images[: int(len(images) * size / len(data)) - 10]
            return json.dumps(document).encode()


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="hostile-bench-"))
    scratch = folder / "tmp"
    scratch.mkdir()
    port, data = _free_port(), folder / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WILDLENS_")}
    env["TMPDIR"] = str(scratch)
    log = (folder / "up.log").open("wb")
    wildlens = str(Path(sys.executable).with_name("wildlens"))
    server = subprocess.Popen(
        [wildlens, "up", "--port", str(port), "--data", str(data)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        keys = load_keyring(Settings(mode="embedded", data_dir=data))
        token = TokenIssuer(keys, "wildlens").user_token("admin", {"*": "admin"})
        h = {"Authorization": f"Bearer {token}"}
        pid = httpx.post(f"{base}/v1/projects", json={"name": "Bench"}, headers=h).json()["id"]
        camtrap = f"{base}/v1/projects/{pid}/imports/camtrap-dp"
        coco = f"{base}/v1/projects/{pid}/imports/coco"
        ratio_bomb = raw_zip(deflate_zeros(512 * MiB))
        coco_file = _coco(16 * MiB - 4096)
        sixty = json.dumps({"name": "x" * (60 * MiB)}).encode()
        cases: list[tuple[str, Callable[[], httpx.Response]]] = [
            (
                "3 GiB zip bomb (3 MB)",
                lambda: httpx.post(
                    camtrap, files={"files": ("p.zip", _camtrap_bomb())}, headers=h, timeout=600
                ),
            ),
            (
                "512 MiB bomb, honest headers",
                lambda: httpx.post(
                    camtrap, files={"files": ("p.zip", ratio_bomb)}, headers=h, timeout=600
                ),
            ),
            (
                f"COCO of {len(coco_file) / MiB:.1f} MiB",
                lambda: httpx.post(
                    coco, files={"file": ("c.json", coco_file)}, headers=h, timeout=600
                ),
            ),
            (
                "60 MB JSON body",
                lambda: httpx.post(
                    f"{base}/v1/projects",
                    content=sixty,
                    headers={**h, "Content-Type": "application/json"},
                    timeout=600,
                ),
            ),
        ]
        before = _memory(server.pid)
        # What the platform keeps there itself (a library's session file) is not counted.
        kept = _disk(scratch)
        print(f"wildlens up ready: {before['VmRSS']} MiB resident")
        print(f"{'request':34} {'status':>6} {'s':>7} {'healthz gap s':>14} {'peak MiB':>9} "
              f"{'tmp bytes':>9}")  # fmt: skip
        bomb_peak = 0
        for name, send in cases:
            gap, stop = [0.0], threading.Event()

            def poll(gap: list[float] = gap, stop: threading.Event = stop) -> None:
                with httpx.Client() as client:
                    last = time.perf_counter()
                    while not stop.is_set():
                        client.get(f"{base}/healthz", timeout=30)
                        now = time.perf_counter()
                        gap[0] = max(gap[0], now - last)
                        last = now
                        time.sleep(0.01)

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            started = time.perf_counter()
            response = send()
            took = time.perf_counter() - started
            stop.set()
            poller.join()
            peak = _memory(server.pid)["VmHWM"]
            bomb_peak = bomb_peak or peak
            print(
                f"{name:34} {response.status_code:>6} {took:>7.2f} {gap[0]:>14.3f} {peak:>9} "
                f"{_disk(scratch) - kept:>9}"
            )
            print(f"    {response.json()['detail'][:150]}")
        print(
            f"peak memory of the 3 GiB zip bomb import: {bomb_peak} MiB "
            f"({before['VmHWM']} MiB before)"
        )
    finally:
        server.terminate()
        server.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
