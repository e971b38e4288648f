"""Alert latency: from ``POST /v1/media`` to the signed webhook arriving at a receiver.

The whole platform runs in embedded mode in this process (SQLite, the embedded bus, a local
object folder), served by uvicorn on a loopback port, with the tiny detector the tests train
(``tests/support/tiny_models.py``; built once and reused from pytest's cache when it is there).
A project has one alert rule (any animal, confidence 0.2 or more) pointing at a receiver on
another loopback port. Each sample posts a new camera-trap-like JPEG with a gateway's device
token and waits for the webhook about that medium: the time covers ingest, recording,
detection, storing the observations, matching the rule, and the signed delivery.

Baseline, measured in the same run: a plain HTTP POST of the same webhook body to the same
receiver, which is the least any delivery can cost. The ratio says how many such round trips
the whole pipeline takes; the target for the figure itself is 5 s.

    python bench/catalogue_webhook.py [--samples 7]

The last line reads ``upload-to-webhook latency: <seconds> s, ratio R``
(R = median latency / median raw POST).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.tiny_models import build_tiny_detector, generate_scene  # noqa: E402
from wildlens.common.auth import TokenIssuer, load_keyring  # noqa: E402
from wildlens.common.http import create_app  # noqa: E402
from wildlens.common.service import discover_services, platform_settings  # noqa: E402
from wildlens.common.telemetry import configure_logging  # noqa: E402

TARGET_S = 5.0
TIMEOUT_S = 60.0


class Receiver:
    """A webhook receiver on a loopback port: notes when each medium's alert arrived."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.bodies: list[bytes] = []
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                arrived = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                try:
                    media_id = json.loads(body)["media"]["id"]
                except (ValueError, KeyError, TypeError):
                    return  # the baseline's posts
                with receiver._changed:
                    receiver.arrivals[media_id] = arrived
                    receiver.bodies.append(body)
                    receiver._changed.notify_all()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait_for(self, media_id: str, timeout: float) -> float:
        with self._changed:
            if not self._changed.wait_for(lambda: media_id in self.arrivals, timeout):
                raise TimeoutError(f"no webhook for media {media_id} within {timeout} s")
            return self.arrivals[media_id]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _detector() -> Path:
    cached = ROOT / ".pytest_cache" / "d" / "tiny-detector"
    folder = cached if cached.parent.exists() else Path(tempfile.mkdtemp()) / "tiny-detector"
    return build_tiny_detector(folder)


def _jpeg(seed: int) -> bytes:
    buffer = io.BytesIO()
    generate_scene(1024, 768, (0.3, 0.25, 0.3, 0.35), seed=seed).save(
        buffer, format="JPEG", quality=90
    )
    return buffer.getvalue()


async def _ok(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return response.json()


async def _project(api: httpx.AsyncClient, admin: str, webhook: str) -> str:
    """A project with a camera and an alert rule; the camera's gateway token."""
    h = {"Authorization": f"Bearer {admin}"}
    pid = (await _ok(await api.post("/v1/projects", json={"name": "Bench"}, headers=h), 201))["id"]
    location = await _ok(
        await api.post(
            f"/v1/projects/{pid}/locations",
            json={"name": "Pond", "latitude": 50.7, "longitude": 4.0},
            headers=h,
        ),
        201,
    )
    device = await _ok(
        await api.post(f"/v1/projects/{pid}/devices", json={"serial": "BENCH-1"}, headers=h), 201
    )
    await _ok(
        await api.post(
            f"/v1/projects/{pid}/deployments",
            json={
                "location_id": location["id"],
                "device_id": device["id"],
                "start": "2020-01-01T00:00:00+00:00",
            },
            headers=h,
        ),
        201,
    )
    await _ok(
        await api.post(
            f"/v1/projects/{pid}/alerts",
            json={
                "name": "Any animal",
                "observation_type": "animal",
                "min_confidence": 0.2,
                "webhook_url": webhook,
            },
            headers=h,
        ),
        201,
    )
    token = await _ok(
        await api.post(f"/v1/projects/{pid}/devices/{device['id']}/token", headers=h), 201
    )
    return str(token["token"])


async def _latencies(
    api: httpx.AsyncClient, gateway: str, receiver: Receiver, samples: int
) -> list[float]:
    found = []
    # The first upload warms the detector session and the connections; it is not counted.
    for n in range(samples + 1):
        image = _jpeg(10_000 + n)
        started = time.perf_counter()
        body = await _ok(
            await api.post(
                "/v1/media",
                files={"file": (f"bench-{n}.jpg", image, "image/jpeg")},
                data={"captured_at": "2021-04-01T21:30:00+01:00"},
                headers={"Authorization": f"Bearer {gateway}"},
            ),
            202,
        )
        arrived = await asyncio.to_thread(receiver.wait_for, body["media_id"], TIMEOUT_S)
        if n:
            found.append(arrived - started)
    return found


async def _raw_posts(url: str, body: bytes, samples: int) -> list[float]:
    found = []
    async with httpx.AsyncClient() as client:
        for n in range(samples + 1):
            started = time.perf_counter()
            response = await client.post(
                url, content=body, headers={"Content-Type": "application/json"}
            )
            response.raise_for_status()
            if n:
                found.append(time.perf_counter() - started)
    return found


async def measure(samples: int = 7) -> tuple[float, float]:
    """(median upload-to-webhook seconds, median raw POST seconds)."""
    detector = _detector()
    receiver = Receiver()
    with tempfile.TemporaryDirectory(prefix="wildlens-bench-") as scratch:
        port = _free_port()
        settings = platform_settings()(
            mode="embedded",
            data_dir=Path(scratch),
            public_url=f"http://127.0.0.1:{port}",
            log_level="WARNING",
            inference={"detector": detector},
            # The receiver listens on loopback.
            alerts={"allow_private_targets": True},
        )
        # The figures, not the platform's request log.
        configure_logging(settings.log_level, json=settings.log_json)
        app = create_app(settings, discover_services())
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        serving = asyncio.create_task(server.serve())
        try:
            while not server.started:
                if serving.done():
                    serving.result()
                await asyncio.sleep(0.05)
            admin = TokenIssuer(load_keyring(settings), settings.auth.issuer).user_token(
                "bench", {"*": "admin"}
            )
            async with httpx.AsyncClient(base_url=settings.public_url, timeout=60) as api:
                gateway = await _project(api, admin, receiver.url)
                latencies = await _latencies(api, gateway, receiver, samples)
            raw = await _raw_posts(receiver.url, receiver.bodies[-1], samples * 5)
        finally:
            server.should_exit = True
            await serving
            receiver.close()
    for n, seconds in enumerate(latencies, start=1):
        print(f"  upload {n}: webhook after {seconds:.3f} s")
    return statistics.median(latencies), statistics.median(raw)


async def webhook_latency_seconds() -> float:
    """Median seconds from ``POST /v1/media`` to the webhook arriving, in embedded mode."""
    latency, _raw = await measure()
    return latency


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=7)
    args = parser.parse_args()
    latency, raw = asyncio.run(measure(args.samples))
    verdict = "within" if latency <= TARGET_S else "over"
    print(f"raw POST to the receiver: {raw * 1000:.2f} ms (median)")
    print(f"target: {TARGET_S:.0f} s ({verdict})")
    print(f"upload-to-webhook latency: {latency:.3f} s, ratio {latency / raw:.1f}")


if __name__ == "__main__":
    main()
