"""Load on the distributed stack, with locust (as TrapTagger load-tests its own): gateways
posting, reviewers working through the review queue, an export running, all at once.

The catalogue, ingest and inference (the tiny detector) run as separate processes
(``wildlens serve``) on the local PostgreSQL and RabbitMQ, in schemas and queues of their own,
with an S3 server (moto) of their own in another process; everything is removed afterwards.
Each runs ``--replicas`` processes (1), each on a port of its own, the users spread over them
as a Kubernetes Service spreads connections (gateways and reviewers by their number, the export
on the first). The chart's two replicas of each belong on nodes of their own: on one 2-core
machine, two of each made every figure worse (review page p95 5.4 s against 1.0 s, uploads
1.3 s against 0.56 s, in back-to-back 3-minute runs). Locust runs in this process as a
library, headless:

* 20 gateways (a camera and its device token each) post one distinct camera-trap-like JPEG a
  second each (``--size``, 640x480 by default) with its capture time, as ``POST /v1/media``;
* 5 reviewers (annotators) page the review queue (``GET …/review``, 50 a page, following the
  cursor now and then) and validate an item's observation, a second or two apart;
* 1 export loop: a Camtrap DP export is started, polled until done, downloaded, started again.

Before that, in the same run, one gateway posts alone for ``--baseline-seconds``: its p95 is
the baseline the last line compares with. Printed: requests, throughput, p50/p95/p99 per kind
of request, errors, the CPU each process used and the machine's load (other people's tests run
on the same two cores), and whether the targets hold (zero errors, p95 of uploads ≤ 1 s and of
review pages ≤ 500 ms).

    python bench/load.py [--minutes 5] [--baseline-seconds 30] [--size 640x480] [--replicas 1]

The last line reads ``p95 upload under load: <ms> ms, ratio R`` (R = under load / alone).
"""

# Locust patches the standard library for gevent when imported, which must happen before
# anything else imports it (ssl above all), so the imports are not in the usual order.
# ruff: noqa: I001
from __future__ import annotations

from locust import HttpUser, User, between, constant, constant_pacing, events, task
from locust.env import Environment

import argparse
import io
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import gevent
import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.cluster import Backends, ServiceCluster, drop_prefixed, free_port  # noqa: E402
from tests.support.cpu import CpuUse  # noqa: E402
from tests.support.tiny_models import build_tiny_detector, generate_scene, random_box  # noqa: E402

SERVICES = ["catalogue", "ingest", "inference"]
GATEWAYS, REVIEWERS = 20, 5
TARGETS_MS = {"upload": 1000.0, "review page": 500.0}
EXPORT_FORMAT = "camtrap-dp"


@dataclass
class Setup:
    """What the users work on: the project, the gateways' tokens, the reviewers' tokens."""

    ingest_urls: list[str]
    catalogue_urls: list[str]
    project_id: str
    gateway_tokens: list[str]
    reviewer_tokens: list[str]
    images: list[bytes]


SETUP: Setup | None = None


def setup() -> Setup:
    if SETUP is None:
        raise RuntimeError("no setup")
    return SETUP


def unique_jpeg(base: bytes, n: int) -> bytes:
    """``base`` with a comment segment naming ``n``: other bytes, so another medium (ingest
    stores the same bytes once), for the price of a few bytes instead of a new image."""
    comment = f"wildlens load {n} {random.random()}".encode()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return base[:2] + segment + base[2:]


def scenes(count: int, width: int, height: int) -> list[bytes]:
    out = []
    for n in range(count):
        rng = np.random.default_rng(n)
        buffer = io.BytesIO()
        generate_scene(width, height, random_box(rng), seed=n).save(buffer, "JPEG", quality=85)
        out.append(buffer.getvalue())
    return out


# -- the users -------------------------------------------------------------------------------

_serial = itertools.count()


class Gateway(HttpUser):
    """A field gateway: one image a second, with the time its camera took it."""

    wait_time = constant_pacing(1)
    fixed_count = GATEWAYS

    def on_start(self) -> None:
        s = setup()
        self.number = next(_serial)
        self.token = s.gateway_tokens[self.number % len(s.gateway_tokens)]
        self.client.base_url = s.ingest_urls[self.number % len(s.ingest_urls)]
        self.sent = 0

    @task
    def post_image(self) -> None:
        s = setup()
        self.sent += 1
        base = s.images[(self.number * 7919 + self.sent) % len(s.images)]
        data = unique_jpeg(base, self.number * 1_000_000 + self.sent)
        self.client.post(
            "/v1/media",
            files={"file": (f"IMG_{self.sent:05d}.JPG", data, "image/jpeg")},
            data={"captured_at": datetime.now(UTC).isoformat()},
            headers={"Authorization": f"Bearer {self.token}"},
            name="upload",
        )


class Reviewer(HttpUser):
    """An annotator: reads a page of the review queue, validates one item's label, and now and
    then goes on to the next page."""

    wait_time = between(1, 2)
    fixed_count = REVIEWERS
    _numbers: ClassVar[Iterator[int]] = itertools.count()

    def on_start(self) -> None:
        s = setup()
        self.number = next(Reviewer._numbers)
        self.headers = {"Authorization": f"Bearer {s.reviewer_tokens[self.number]}"}
        self.client.base_url = s.catalogue_urls[self.number % len(s.catalogue_urls)]
        self.cursor: str | None = None

    @task
    def review(self) -> None:
        s = setup()
        params: dict[str, Any] = {"limit": 50}
        if self.cursor:
            params["cursor"] = self.cursor
        response = self.client.get(
            f"/v1/projects/{s.project_id}/review",
            params=params,
            headers=self.headers,
            name="review page",
        )
        if not response.ok:
            self.cursor = None
            return
        page = response.json()
        # Reviewers take different items of a page, as people sharing a queue do.
        mine = [
            item
            for n, item in enumerate(page["items"])
            if n % REVIEWERS == self.number and item["observation_ids"]
        ]
        if mine:
            observation = mine[0]["observation_ids"][0]
            self.client.post(
                f"/v1/projects/{s.project_id}/observations/{observation}/validate",
                headers=self.headers,
                name="validate",
            )
        self.cursor = page.get("next_cursor") if random.random() < 0.3 else None


class Exporter(HttpUser):
    """A manager exporting the project again and again: start, poll, download."""

    wait_time = constant(1)
    fixed_count = 1

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {locust_admin()}"}

    @task
    def export(self) -> None:
        s = setup()
        started = time.perf_counter()
        response = self.client.post(
            f"/v1/projects/{s.project_id}/exports",
            json={"format": EXPORT_FORMAT},
            headers=self.headers,
            name="export start",
        )
        if not response.ok:
            return
        export_id = response.json()["id"]
        status: dict[str, Any] = {}
        for _ in range(600):
            gevent.sleep(1)
            polled = self.client.get(
                f"/v1/projects/{s.project_id}/exports/{export_id}",
                headers=self.headers,
                name="export status",
            )
            if not polled.ok:
                continue
            status = polled.json()
            if status["status"] in ("done", "failed"):
                break
        done = status.get("status") == "done"
        events.request.fire(  # type: ignore[no-untyped-call]
            request_type="EXPORT",
            name="export run",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=None if done else RuntimeError(f"export ended {status.get('status')}"),
            context={},
        )
        if done and status.get("download_url"):
            self.client.get(status["download_url"], name="export download")


_ADMIN: list[str] = []


def locust_admin() -> str:
    return _ADMIN[0]


# -- the stack ------------------------------------------------------------------------------


def _ok(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return response.json()


def make_project(cluster: ServiceCluster, images: list[bytes]) -> Setup:
    """A project with a location, twenty cameras deployed there, a token for each, and five
    annotators."""
    headers = {"Authorization": f"Bearer {cluster.admin}"}
    with httpx.Client(base_url=cluster.url("catalogue"), headers=headers, timeout=30) as c:
        pid = _ok(c.post("/v1/projects", json={"name": "Load"}), 201)["id"]
        location = _ok(
            c.post(
                f"/v1/projects/{pid}/locations",
                json={"name": "Ridge", "latitude": 50.7, "longitude": 4.0, "region": "BE"},
            ),
            201,
        )["id"]
        tokens = []
        for n in range(GATEWAYS):
            device = _ok(
                c.post(f"/v1/projects/{pid}/devices", json={"serial": f"GW-{n:03d}", "model": "X"}),
                201,
            )["id"]
            _ok(
                c.post(
                    f"/v1/projects/{pid}/deployments",
                    json={
                        "location_id": location,
                        "device_id": device,
                        "start": "2020-01-01T00:00:00+00:00",
                        "end": "2035-01-01T00:00:00+00:00",
                        "utc_offset": "+00:00",
                    },
                ),
                201,
            )
            tokens.append(_ok(c.post(f"/v1/projects/{pid}/devices/{device}/token"), 201)["token"])
    reviewers = [cluster.token(f"reviewer-{n}", {pid: "annotator"}) for n in range(REVIEWERS)]
    return Setup(cluster.urls("ingest"), cluster.urls("catalogue"), pid, tokens, reviewers, images)


def start_moto(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# -- running locust -------------------------------------------------------------------------


def run_locust(user_classes: list[type[User]], seconds: float) -> Environment:
    env = Environment(user_classes=user_classes, events=events)
    runner = env.create_local_runner()
    users = sum(getattr(u, "fixed_count", 0) for u in user_classes)
    runner.start(users, spawn_rate=users)
    gevent.spawn_later(seconds, runner.quit)
    runner.greenlet.join()
    return env


def percentiles(env: Environment) -> list[tuple[str, int, int, float, float, float, float]]:
    rows: list[tuple[str, int, int, float, float, float, float]] = []
    for entry in sorted(env.stats.entries.values(), key=lambda e: e.name):
        rows.append(
            (
                entry.name,
                entry.num_requests,
                entry.num_failures,
                entry.total_rps,
                entry.get_response_time_percentile(0.50),
                entry.get_response_time_percentile(0.95),
                entry.get_response_time_percentile(0.99),
            )
        )
    return rows


def main() -> None:
    global SETUP
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--baseline-seconds", type=float, default=30)
    parser.add_argument("--size", default="640x480", help="the gateways' images, WxH")
    parser.add_argument(
        "--replicas", type=int, default=1, help="processes of each service, each its own port"
    )
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    images = scenes(64, width, height)
    detector = build_tiny_detector(ROOT / ".pytest_cache" / "d" / "tiny-detector")
    unique = "l" + os.urandom(5).hex()
    schema_prefix, queue_prefix = f"{unique}_", f"{unique}."
    s3_port = free_port()
    moto = start_moto(s3_port)
    with tempfile.TemporaryDirectory() as tmp:
        cluster = ServiceCluster(
            Path(tmp),
            Backends(
                database_url="postgresql+asyncpg://postgres@127.0.0.1:5432/test",
                broker_url="amqp://127.0.0.1:5672/",
                broker_user="guest",
                broker_password="guest",
                storage_url=f"s3://127.0.0.1:{s3_port}/{unique}-load?secure=false&region=us-east-1",
                storage_access_key="wildlens-load",
                storage_secret_key="wildlens-load-secret",
                schema_prefix=schema_prefix,
                queue_prefix=queue_prefix,
            ),
            SERVICES,
            detector=detector,
            replicas=dict.fromkeys(SERVICES, args.replicas),
        )
        try:
            cluster.start()
            _ADMIN.append(cluster.admin)
            SETUP = make_project(cluster, images)
            # Each user moves to its replica as it starts; these are where users start.
            Gateway.host = SETUP.ingest_urls[0]
            Reviewer.host = Exporter.host = SETUP.catalogue_urls[0]
            report(cluster, moto, args)
        finally:
            cluster.stop()
            moto.terminate()
            moto.wait(timeout=30)
            import asyncio

            asyncio.run(drop_prefixed(schema_prefix, queue_prefix))


def unexpected_errors(log: Path, most: int = 5) -> list[str]:
    """The first few 500s a service logged, with the exception's last line."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        if '"http.unhandled_error"' in line:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            trace = str(record.get("exception", "")).strip().splitlines()
            found.append(f"{record.get('error', '')[:300]} | {trace[-1][:300] if trace else ''}")
            if len(found) >= most:
                break
    return found


def report(
    cluster: ServiceCluster, moto: subprocess.Popen[bytes], args: argparse.Namespace
) -> None:
    load_before = os.getloadavg()
    # One gateway alone: the upload's own latency on this machine, without the others' load.
    Gateway.fixed_count = 1
    alone = run_locust([Gateway], args.baseline_seconds)
    baseline_p95 = alone.stats.get("upload", "POST").get_response_time_percentile(0.95)
    Gateway.fixed_count = GATEWAYS

    pids = {name: p.pid for name, p in cluster.processes.items()}
    pids["s3 (moto)"] = moto.pid
    processes = {name: psutil.Process(pid) for name, pid in pids.items()}
    processes["locust"] = psutil.Process(os.getpid())
    watch = CpuUse(lambda: {name: [process] for name, process in processes.items()})
    watch.start()
    env = run_locust([Gateway, Reviewer, Exporter], args.minutes * 60)
    spent = watch.stop()
    cpu = {name: used / spent.wall for name, used in spent.seconds.items()}
    machine_busy = spent.machine_busy
    load_after = os.getloadavg()

    total = env.stats.total
    print(
        f"load: {GATEWAYS} gateways x 1 image/s ({args.size}), {REVIEWERS} reviewers, "
        f"1 {EXPORT_FORMAT} export loop, for {args.minutes:g} min; {args.replicas} "
        f"process(es) of each service"
    )
    print(
        f"requests: {total.num_requests:,}, {total.total_rps:.1f}/s; errors: {total.num_failures}"
    )
    print(
        f"{'kind':<16}{'requests':>9}{'errors':>8}{'per s':>8}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    )
    for name, count, failures, rps, p50, p95, p99 in percentiles(env):
        print(f"{name:<16}{count:>9}{failures:>8}{rps:>8.2f}{p50:>9.0f}{p95:>9.0f}{p99:>9.0f}")
    for error in env.stats.errors.values():
        print(f"error: {error.occurrences} x {error.method} {error.name}: {error.error}")
    print(
        "cpu (share of one core): "
        + ", ".join(f"{name} {share:.2f}" for name, share in sorted(cpu.items()))
    )
    print(
        f"machine: {os.cpu_count()} cores, {machine_busy:.0%} busy during the run; load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after (other people's tests included)"
    )
    upload_p95 = env.stats.get("upload", "POST").get_response_time_percentile(0.95)
    review_p95 = env.stats.get("review page", "GET").get_response_time_percentile(0.95)
    held = {
        "zero errors": total.num_failures == 0,
        f"p95 upload {upload_p95:.0f} ms <= {TARGETS_MS['upload']:.0f} ms": upload_p95
        <= TARGETS_MS["upload"],
        f"p95 review page {review_p95:.0f} ms <= {TARGETS_MS['review page']:.0f} ms": review_p95
        <= TARGETS_MS["review page"],
    }
    print("targets: " + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in held.items()))
    for name in cluster.processes:
        for line in unexpected_errors(cluster.log(name)):
            print(f"{name} log: {line}")
    print(f"one gateway alone: p95 upload {baseline_p95:.0f} ms")
    print(f"p95 upload under load: {upload_p95:.0f} ms, ratio {upload_p95 / baseline_p95:.2f}")


if __name__ == "__main__":
    main()
