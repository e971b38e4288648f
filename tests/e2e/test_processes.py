"""Every service as its own OS process (``wildlens serve``), as in a cluster, on PostgreSQL,
RabbitMQ and an S3 server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import AMQP_PASSWORD, AMQP_URL, AMQP_USER, PG_URL, S3Server, free_port
from tests.support.api import bearer, create_site, ok, post_media
from tests.support.platform import eventually
from wildlens.common.auth import TokenIssuer
from wildlens.common.auth.keys import generate_pem_pair, load_keyring
from wildlens.common.settings import Settings

pytestmark = pytest.mark.processes

SERVICES = ["catalogue", "ingest", "inference", "citsci", "training"]


SERVICE_SECRET = "shared-by-the-services-of-this-test"


@dataclass
class Cluster:
    urls: dict[str, str]
    admin: str
    logs: dict[str, Path]
    # Starts one more process of a service (another replica) and answers its URL once ready.
    spawn: Callable[[str], str]


def _wildlens() -> str:
    return str(Path(sys.executable).with_name("wildlens"))


@pytest.fixture
def cluster(
    tmp_path: Path,
    pg_schema_prefix: str,
    amqp_prefix: str,
    s3_server: S3Server,
    s3_bucket: str,
    tiny_detector: Path,
) -> Iterator[Cluster]:
    private_pem, public_pem = generate_pem_pair()
    (tmp_path / "signing.pem").write_bytes(private_pem)
    (tmp_path / "signing.pub.pem").write_bytes(public_pem)
    common = {
        "WILDLENS_MODE": "distributed",
        "WILDLENS_DATABASE_URL": PG_URL,
        "WILDLENS_DATABASE__SCHEMA_PREFIX": pg_schema_prefix,
        "WILDLENS_BROKER_URL": AMQP_URL,
        "WILDLENS_BROKER__USERNAME": AMQP_USER,
        "WILDLENS_BROKER__PASSWORD": AMQP_PASSWORD,
        "WILDLENS_BROKER__EXCHANGE": f"{amqp_prefix}wildlens.events",
        "WILDLENS_BROKER__QUEUE_PREFIX": amqp_prefix,
        "WILDLENS_STORAGE_URL": s3_server.url(s3_bucket),
        "WILDLENS_STORAGE__ACCESS_KEY": s3_server.access_key,
        "WILDLENS_STORAGE__SECRET_KEY": s3_server.secret_key,
        "WILDLENS_AUTH__PUBLIC_KEY_FILE": str(tmp_path / "signing.pub.pem"),
        "WILDLENS_DATA_DIR": str(tmp_path / "data"),
        "WILDLENS_AUTH__SERVICE_SECRET": SERVICE_SECRET,
    }
    ports = {service: free_port() for service in SERVICES}
    common.update(
        {
            f"WILDLENS_SERVICES__{service.upper()}_URL": f"http://127.0.0.1:{port}"
            for service, port in ports.items()
        }
    )
    processes: dict[str, subprocess.Popen[bytes]] = {}
    urls: dict[str, str] = {}
    logs: dict[str, Path] = {}

    def start(service: str, name: str, port: int) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WILDLENS_")}
        env.update(common)
        if service == "catalogue":
            env["WILDLENS_AUTH__PRIVATE_KEY_FILE"] = str(tmp_path / "signing.pem")
        if service == "inference":
            env["WILDLENS_INFERENCE__DETECTOR"] = str(tiny_detector)
        logs[name] = tmp_path / f"{name}.log"
        processes[name] = subprocess.Popen(
            [_wildlens(), "serve", service, "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=logs[name].open("wb"),
            stderr=subprocess.STDOUT,
        )
        urls[name] = f"http://127.0.0.1:{port}"

    def spawn(service: str) -> str:
        name = f"{service}-{sum(n.startswith(service) for n in processes) + 1}"
        start(service, name, free_port())
        _wait_ready({name: urls[name]}, processes, logs)
        return urls[name]

    try:
        for service in SERVICES:
            start(service, service, ports[service])
        _wait_ready(dict(urls), processes, logs)
        settings = Settings(
            auth={"private_key": private_pem.decode()}, mode="embedded", data_dir=tmp_path
        )
        admin = TokenIssuer(load_keyring(settings), "wildlens").user_token("admin", {"*": "admin"})
        yield Cluster(urls, admin, logs, spawn)
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _wait_ready(
    urls: dict[str, str], processes: dict[str, subprocess.Popen[bytes]], logs: dict[str, Path]
) -> None:
    deadline = time.monotonic() + 90
    pending = set(urls)
    while pending and time.monotonic() < deadline:
        for service in list(pending):
            if processes[service].poll() is not None:
                raise AssertionError(f"{service} exited:\n{logs[service].read_text()[-3000:]}")
            try:
                if httpx.get(f"{urls[service]}/readyz", timeout=2).status_code == 200:
                    pending.discard(service)
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    if pending:
        raise AssertionError(
            "not ready: " + ", ".join(f"{s}:\n{logs[s].read_text()[-2000:]}" for s in pending)
        )


async def test_one_image_through_five_processes(
    cluster: Cluster, heron_images: list[Path], heron_timestamps: dict[str, datetime]
) -> None:
    async with (
        httpx.AsyncClient(base_url=cluster.urls["catalogue"], timeout=30) as catalogue,
        httpx.AsyncClient(base_url=cluster.urls["ingest"], timeout=30) as ingest,
    ):
        site = await create_site(catalogue, cluster.admin)
        image = heron_images[0]
        body = await ok(await post_media(ingest, site.device_token, image), 202)

        async def analyzed() -> dict[str, Any] | None:
            response = await catalogue.get(
                f"/v1/media/{body['media_id']}", headers=bearer(cluster.admin)
            )
            if response.status_code != 200:
                return None
            media = dict(response.json())
            return media if media["status"] == "analyzed" else None

        media = await eventually(analyzed, timeout=90)
        assert media["deployment_id"] == site.deployment_id
        assert datetime.fromisoformat(media["captured_at"]) == heron_timestamps[image.name]
        assert [a["model_name"] for a in media["analyses"]] == ["tiny-detector"]

        # Each process answers only its own routes.
        response = await ingest.get(f"/v1/media/{body['media_id']}", headers=bearer(cluster.admin))
        assert response.status_code in (404, 405)

        async with httpx.AsyncClient(base_url=cluster.urls["inference"], timeout=10) as inference:
            ready = (await inference.get("/readyz")).json()
            assert ready["services"]["inference"]["detector"]["name"] == "tiny-detector"
            metrics = (await inference.get("/metrics")).text
            assert 'wildlens_inference_model_info{name="tiny-detector"' in metrics
            assert "wildlens_events_consumed_total" in metrics

        # Only the catalogue holds the signing key; the others verify with the public key.
        await asyncio.sleep(0)
        log = cluster.logs["catalogue"].read_text()
        assert "platform.started" in log


async def test_a_revoked_gateway_is_refused_by_every_ingest_process(
    cluster: Cluster, heron_images: list[Path]
) -> None:
    async with (
        httpx.AsyncClient(base_url=cluster.urls["catalogue"], timeout=30) as catalogue,
        httpx.AsyncClient(base_url=cluster.urls["ingest"], timeout=30) as ingest,
    ):
        admin = bearer(cluster.admin)
        site = await create_site(catalogue, cluster.admin)
        await ok(await post_media(ingest, site.device_token, heron_images[0]), 202)

        # The ingest process, holding only the public key, obtained a service token from the
        # catalogue with the shared secret and loaded the (empty) revocation list (retrying
        # with backoff if it started before the catalogue answered).
        async def revocations_loaded() -> bool:
            ready = (await ingest.get("/readyz")).json()
            return ready["services"]["ingest"]["revocations"]["loaded"] is True

        await eventually(revocations_loaded)

        listed = await ok(
            await catalogue.get(f"/v1/projects/{site.project_id}/device-tokens", headers=admin),
            200,
        )
        token_id = listed["items"][0]["token_id"]
        await ok(
            await catalogue.delete(
                f"/v1/projects/{site.project_id}/device-tokens/{token_id}", headers=admin
            ),
            200,
        )

        async def refused() -> bool:
            response = await post_media(ingest, site.device_token, heron_images[1])
            return response.status_code == 401

        # Through the outbox and the broadcast, within seconds.
        await eventually(refused, timeout=5)

        # A replica started after the revocation never heard the broadcast; it loads the
        # list from the catalogue before it answers.
        later_url = cluster.spawn("ingest")
        async with httpx.AsyncClient(base_url=later_url, timeout=30) as later:
            response = await post_media(later, site.device_token, heron_images[1])
            assert response.status_code == 401, response.text
            assert response.json()["detail"] == "token has been revoked"
            ready = (await later.get("/readyz")).json()
            assert ready["services"]["ingest"]["revocations"]["loaded"] is True
            assert ready["services"]["ingest"]["revocations"]["in_force"] == 1
