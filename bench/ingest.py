"""Ingest throughput: images/s through ``POST /v1/media`` next to raw S3 PUTs of the same bytes.

Eight concurrent clients post the real camera-trap JPEGs (each made unique with a JPEG comment
so every post is a new original) to one ingest process (``wildlens serve ingest``) for a fixed
time; in the same run, eight threads PUT the same bytes straight to the same S3 server with the
``minio`` client. The S3 server is moto in its own process; the database and broker are the
local PostgreSQL and RabbitMQ when they answer, else SQLite and the embedded bus.

    python bench/ingest.py [--seconds 20] [--clients 8]

Each run also prints the CPU time each part of the machine spent per image (the ingest
processes, the S3 server, PostgreSQL, RabbitMQ, and this process, the client), which shows
what the upload path costs beyond the raw PUT it is compared with.

It then prints the most any upload service could reach on this machine: the measured CPU of
everything an upload costs besides the service (the S3 server's PUT, PostgreSQL, RabbitMQ and
the client) plus the one check the service may not skip (every entropy-coded byte of the JPEG
read, at 1/8 scale), shared by the machine's cores and never more than the S3 server's one
interpreter lock allows.

The last line reads ``ingest throughput: <images/s> images/s, ratio R`` (R = ingest / raw S3).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import psutil
from minio import Minio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.cpu import CpuSpent, CpuUse, Parts  # noqa: E402
from wildlens.inference.models.providers import pod_cores  # noqa: E402

MEDIA = ROOT / "tests" / "data" / "camtrap-dp" / "example" / "media"
BIN = Path(sys.executable).parent
ACCESS, SECRET, REGION = "bench", "bench-secret", "us-east-1"
WORKERS = 2  # one uvicorn process per core, as a pod with 2 CPUs would run it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def backend_parts(ingest: subprocess.Popen[bytes] | None = None) -> Parts:
    """The processes whose CPU an upload (or a raw PUT) costs, by part."""

    def find() -> dict[str, list[psutil.Process]]:
        parts: dict[str, list[psutil.Process]] = {}
        if ingest is not None:
            try:
                root = psutil.Process(ingest.pid)
                parts["ingest"] = [root, *root.children(recursive=True)]
            except psutil.Error:
                parts["ingest"] = []
        parts.update(s3=[], postgres=[], rabbitmq=[])
        for process in psutil.process_iter(["name", "cmdline"]):
            name, cmdline = process.info["name"], process.info["cmdline"] or []
            if name == "postgres":
                parts["postgres"].append(process)
            elif name == "beam.smp":
                parts["rabbitmq"].append(process)
            elif any(part.endswith("moto_server") for part in cmdline):
                parts["s3"].append(process)
        parts["client"] = [psutil.Process(os.getpid())]
        return parts

    return find


def per_image(spent: CpuSpent, images: int) -> dict[str, float]:
    """CPU milliseconds per image, by part."""
    return {name: used * 1000 / max(1, images) for name, used in spent.seconds.items()}


def cpu_line(cpu: dict[str, float]) -> str:
    parts = ", ".join(f"{name} {ms:.1f}" for name, ms in cpu.items() if ms >= 0.05)
    return f"    CPU ms per image: {parts}; total {sum(cpu.values()):.1f}"


def check_ms(images: list[bytes], rounds: int = 20) -> float:
    """CPU milliseconds per image of the check every upload gets (``inspect_image``), alone in
    this process: the least an upload service spends on the bytes."""
    from wildlens.ingest.media import inspect_image, sniff_file

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for n, image in enumerate(images):
            path = Path(tmp) / f"{n}.jpg"
            path.write_bytes(unique_jpeg(image, n))
            paths.append((path, sniff_file(path)))
        inspect_image(*paths[0], max_pixels=10**9)  # warm-up: Pillow's plugins load once
        started = time.process_time()
        for _ in range(rounds):
            for path, sniffed in paths:
                inspect_image(path, sniffed, max_pixels=10**9)
        return (time.process_time() - started) * 1000 / (rounds * len(paths))


def ceiling(api: dict[str, float], check: float) -> tuple[float, str]:
    """The most uploads/s any service could take here: the other parts as measured, and the
    service spending only ``check`` ms of CPU per image."""
    others = sum(ms for name, ms in api.items() if name != "ingest")
    # The cores this run may use (a container's quota), not the host's.
    cores = pod_cores()
    by_cores = cores * 1000 / (others + check)
    # moto answers every request under one interpreter lock: at most one core's worth.
    by_s3 = 1000 / api["s3"] if api.get("s3") else float("inf")
    rate = min(by_cores, by_s3)
    why = (
        f"{cores} cores / ({others:.1f} ms of the other parts + {check:.1f} ms of the check)"
        if by_cores <= by_s3
        else f"the S3 server's one core / {api['s3']:.1f} ms per PUT"
    )
    return rate, why


def unique_jpeg(original: bytes, n: int) -> bytes:
    """The same picture with a comment segment right after SOI: new bytes, same image."""
    comment = f"wildlens-bench {n} {uuid.uuid4()}".encode()
    segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
    return original[:2] + segment + original[2:]


def wait_http(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not become ready")


def start_moto(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while not reachable(port):
        if time.monotonic() > deadline:
            raise RuntimeError("moto_server did not start")
        time.sleep(0.2)
    return process


def start_ingest(
    port: int, s3_port: int, bucket: str, data_dir: Path, prefix: str, *, workers: bool
) -> subprocess.Popen[bytes]:
    from wildlens.common.auth.keys import generate_pem_pair

    private_pem, _ = generate_pem_pair()
    (data_dir / "key.pem").write_bytes(private_pem)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WILDLENS_")}
    env.update(
        {
            "WILDLENS_DATA_DIR": str(data_dir),
            "WILDLENS_STORAGE_URL": f"s3://127.0.0.1:{s3_port}/{bucket}?secure=false&region={REGION}",
            "WILDLENS_STORAGE__ACCESS_KEY": ACCESS,
            "WILDLENS_STORAGE__SECRET_KEY": SECRET,
            "WILDLENS_AUTH__PRIVATE_KEY_FILE": str(data_dir / "key.pem"),
            "WILDLENS_LOG_LEVEL": "WARNING",
            "WILDLENS_INGEST__RUN_WORKERS": "true" if workers else "false",
        }
    )
    if reachable(5432) and reachable(5672):
        env.update(
            {
                "WILDLENS_MODE": "distributed",
                "WILDLENS_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
                "WILDLENS_DATABASE__SCHEMA_PREFIX": prefix,
                "WILDLENS_BROKER_URL": "amqp://127.0.0.1:5672/",
                "WILDLENS_BROKER__USERNAME": "guest",
                "WILDLENS_BROKER__PASSWORD": "guest",
                "WILDLENS_BROKER__EXCHANGE": f"{prefix}wildlens.events",
                "WILDLENS_BROKER__QUEUE_PREFIX": prefix,
            }
        )
    process = subprocess.Popen(
        [
            str(BIN / "wildlens"),
            "serve",
            "ingest",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/readyz")
    except BaseException:
        # Not left serving (and using the cores) after the run gave up on it.
        process.terminate()
        process.wait(timeout=30)
        raise
    return process


def admin_token(data_dir: Path) -> str:
    from wildlens.common.auth import TokenIssuer, load_keyring
    from wildlens.common.settings import Settings

    settings = Settings(data_dir=data_dir, auth={"private_key_file": data_dir / "key.pem"})
    return TokenIssuer(load_keyring(settings), "wildlens").user_token("bench", {"*": "admin"})


async def post_for(url: str, token: str, images: list[bytes], seconds: float, clients: int) -> int:
    project = str(uuid.uuid4())
    counter = iter(range(10**9))
    deadline = time.monotonic() + seconds
    done = 0

    async def client() -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            while time.monotonic() < deadline:
                n = next(counter)
                body = unique_jpeg(images[n % len(images)], n)
                response = await http.post(
                    "/v1/media",
                    files={"file": (f"{n}.jpg", body, "image/jpeg")},
                    data={"project_id": project},
                    headers={"Authorization": f"Bearer {token}"},
                )
                if response.status_code != 202:
                    raise RuntimeError(f"{response.status_code}: {response.text}")
                done += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return done


def raw_puts_for(
    s3_port: int, bucket: str, images: list[bytes], seconds: float, clients: int
) -> int:
    client = Minio(
        f"127.0.0.1:{s3_port}", access_key=ACCESS, secret_key=SECRET, secure=False, region=REGION
    )
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    counter = iter(range(10**9))
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    done = 0

    def worker() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            with lock:
                n = next(counter)
            body = unique_jpeg(images[n % len(images)], n)
            client.put_object(bucket, f"raw/{n}.jpg", io.BytesIO(body), len(body), "image/jpeg")
            with lock:
                done += 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    images = [p.read_bytes() for p in sorted(MEDIA.glob("*.JPG"))]
    size_mb = sum(len(i) for i in images) / len(images) / 1e6
    s3_port = free_port()
    rates: dict[str, float] = {}
    cpu: dict[str, dict[str, float]] = {}
    moto = start_moto(s3_port)
    try:
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        raw_puts_for(s3_port, bucket, images, 2, args.clients)  # warm-up
        watch = CpuUse(backend_parts())
        watch.start()
        done = raw_puts_for(s3_port, bucket, images, args.seconds, args.clients)
        rates["raw"], cpu["raw"] = done / args.seconds, per_image(watch.stop(), done)
        # One replica doing everything (derivatives in the same process), then an upload API
        # replica whose derivative and video queues are worked by other replicas.
        for name, workers in (("all-in-one", True), ("api", False)):
            rates[name], cpu[name] = _measure(
                s3_port, images, args.seconds, args.clients, workers=workers
            )
    finally:
        moto.terminate()
        moto.wait(timeout=30)
    raw_rate = rates["raw"]
    check = check_ms(images)
    most, why = ceiling(cpu["api"], check)
    print(
        f"images: real camera-trap JPEGs, {size_mb:.2f} MB each, {args.clients} clients, "
        f"{pod_cores()} cores"
    )
    print(f"raw S3 PUT of the same bytes:                    {raw_rate:.1f} images/s")
    print(cpu_line(cpu["raw"]))
    print(
        f"POST /v1/media, one replica with its derivatives: {rates['all-in-one']:.1f} images/s, "
        f"ratio {rates['all-in-one'] / raw_rate:.2f}"
    )
    print(cpu_line(cpu["all-in-one"]))
    print("POST /v1/media, upload API replica:")
    print(cpu_line(cpu["api"]))
    print(f"    the check every upload needs, alone (1/8-scale JPEG decode): {check:.1f} ms")
    print(
        f"    at most, with the service spending only that: {most:.1f} images/s, "
        f"ratio {most / raw_rate:.2f} ({why})"
    )
    print(
        f"ingest throughput (upload API replica): {rates['api']:.1f} images/s, "
        f"ratio {rates['api'] / raw_rate:.2f}"
    )


def _measure(
    s3_port: int, images: list[bytes], seconds: float, clients: int, *, workers: bool
) -> tuple[float, dict[str, float]]:
    api_port = free_port()
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    prefix = f"bench{uuid.uuid4().hex[:6]}_"
    with tempfile.TemporaryDirectory() as tmp:
        ingest = None
        try:
            ingest = start_ingest(api_port, s3_port, bucket, Path(tmp), prefix, workers=workers)
            token = admin_token(Path(tmp))
            url = f"http://127.0.0.1:{api_port}"
            asyncio.run(post_for(url, token, images, 2, clients))  # warm-up
            watch = CpuUse(backend_parts(ingest))
            watch.start()
            posted = asyncio.run(post_for(url, token, images, seconds, clients))
            cpu = per_image(watch.stop(), posted)
        finally:
            if ingest is not None:
                ingest.terminate()
                ingest.wait(timeout=30)
            _drop_backends(prefix)
    return posted / seconds, cpu


def _drop_backends(prefix: str) -> None:
    """Remove the schema and queues the run created on the shared PostgreSQL and RabbitMQ."""
    if not (reachable(5432) and reachable(5672)):
        return

    async def drop() -> None:
        import asyncpg

        conn = await asyncpg.connect(host="127.0.0.1", user="postgres", database="test")
        try:
            for row in await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", prefix
            ):
                await conn.execute(f'DROP SCHEMA "{row["nspname"]}" CASCADE')
        finally:
            await conn.close()
        from tests.support.rabbit import delete_prefixed

        await delete_prefixed("amqp://127.0.0.1:5672/", "guest", "guest", prefix)

    asyncio.run(drop())


if __name__ == "__main__":
    main()
