"""Services as separate OS processes (``wildlens serve``), as in a cluster, on PostgreSQL,
RabbitMQ and an S3 server reached through addresses the caller chooses (a :class:`TcpProxy`
where a fault test wants to cut the link).

Synchronous on purpose: the fault tests and ``bench/faults.py`` both drive it, and starting,
killing and restarting processes is blocking work anyway.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from wildlens.common.auth import TokenIssuer
from wildlens.common.auth.keys import generate_pem_pair, load_keyring
from wildlens.common.settings import Settings

__all__ = ["Backends", "ServiceCluster", "drop_prefixed", "free_port"]

SERVICE_SECRET = "shared-by-the-services-of-this-cluster"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Backends:
    """Where the services find their backends, and the names that isolate this cluster."""

    database_url: str
    broker_url: str
    broker_user: str
    broker_password: str
    storage_url: str
    storage_access_key: str
    storage_secret_key: str
    # Prepended to the PostgreSQL schemas, and to the exchange and queue names.
    schema_prefix: str
    queue_prefix: str


@dataclass
class ServiceCluster:
    """Args:
    folder: keys, data and one log per process.
    backends: the backends and the isolating prefix.
    services: the services to run, one process each, started in this order.
    detector: the inference service's detector bundle.
    env: more ``WILDLENS_*`` settings for every process (limits, intervals).
    replicas: processes of a service (1 where not named), as pods of one deployment: each
        on a port of its own (``urls``), the ones after the first named ``<service>-<n>``
        and started once the first has migrated the schema; the other services reach the
        first.
    """

    folder: Path
    backends: Backends
    services: list[str]
    detector: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    replicas: Mapping[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    admin: str = ""
    _issuer: TokenIssuer = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        private_pem, public_pem = generate_pem_pair()
        (self.folder / "signing.pem").write_bytes(private_pem)
        (self.folder / "signing.pub.pem").write_bytes(public_pem)
        self.ports = {name: free_port() for name in self._names(self.services)}
        settings = Settings(
            auth={"private_key": private_pem.decode()}, mode="embedded", data_dir=self.folder
        )
        self._issuer = TokenIssuer(load_keyring(settings), "wildlens")
        self.admin = self.token("admin", {"*": "admin"})

    def token(self, subject: str, roles: dict[str, str]) -> str:
        """A user token signed with the cluster's key (roles by project id, or ``*``)."""
        return self._issuer.user_token(subject, roles)

    def _names(self, services: list[str]) -> list[str]:
        """The processes of ``services``: each service's own name, then its other replicas."""
        names = list(services)
        for service in services:
            names += [f"{service}-{n}" for n in range(2, self.replicas.get(service, 1) + 1)]
        return names

    def url(self, service: str) -> str:
        """Where a service (its first replica) or one named replica answers."""
        return f"http://127.0.0.1:{self.ports[service]}"

    def urls(self, service: str) -> list[str]:
        """Where each replica of ``service`` answers, the first first."""
        return [self.url(name) for name in self._names([service]) if name in self.ports]

    def log(self, service: str) -> Path:
        return self.folder / f"{service}.log"

    def _environment(self, service: str) -> dict[str, str]:
        b = self.backends
        env = {k: v for k, v in os.environ.items() if not k.startswith("WILDLENS_")}
        env.update(
            {
                "WILDLENS_MODE": "distributed",
                "WILDLENS_DATABASE_URL": b.database_url,
                "WILDLENS_DATABASE__SCHEMA_PREFIX": b.schema_prefix,
                "WILDLENS_BROKER_URL": b.broker_url,
                "WILDLENS_BROKER__USERNAME": b.broker_user,
                "WILDLENS_BROKER__PASSWORD": b.broker_password,
                "WILDLENS_BROKER__EXCHANGE": f"{b.queue_prefix}wildlens.events",
                "WILDLENS_BROKER__QUEUE_PREFIX": b.queue_prefix,
                "WILDLENS_STORAGE_URL": b.storage_url,
                "WILDLENS_STORAGE__ACCESS_KEY": b.storage_access_key,
                "WILDLENS_STORAGE__SECRET_KEY": b.storage_secret_key,
                "WILDLENS_AUTH__PUBLIC_KEY_FILE": str(self.folder / "signing.pub.pem"),
                "WILDLENS_AUTH__SERVICE_SECRET": SERVICE_SECRET,
                "WILDLENS_DATA_DIR": str(self.folder / "data"),
                "WILDLENS_LOG_LEVEL": "WARNING",
            }
        )
        env.update(
            {
                f"WILDLENS_SERVICES__{name.upper()}_URL": self.url(name)
                for name in ("catalogue", "ingest", "inference", "citsci", "training")
                if name in self.ports
            }
        )
        if service == "catalogue":
            env["WILDLENS_AUTH__PRIVATE_KEY_FILE"] = str(self.folder / "signing.pem")
        if service == "inference" and self.detector is not None:
            env["WILDLENS_INFERENCE__DETECTOR"] = str(self.detector)
        env.update(self.env)
        return env

    def _spawn(self, name: str) -> None:
        service = name if name in self.services else name.rsplit("-", 1)[0]
        wildlens = str(Path(sys.executable).with_name("wildlens"))
        port = str(self.ports[name])
        with self.log(name).open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [wildlens, "serve", service, "--host", "127.0.0.1", "--port", port],
                env=self._environment(service),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def start(self, *, timeout: float = 120) -> None:
        """Start every service and wait until each answers ready; then the other replicas."""
        for service in self.services:
            self._spawn(service)
        self.wait_ready(self.services, timeout=timeout)
        others = [name for name in self._names(self.services) if name not in self.services]
        for name in others:
            self._spawn(name)
        if others:
            self.wait_ready(others, timeout=timeout)

    def wait_ready(self, services: list[str] | None = None, *, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        pending = set(services or self._names(self.services))
        while pending and time.monotonic() < deadline:
            for service in list(pending):
                process = self.processes[service]
                if process.poll() is not None:
                    raise AssertionError(f"{service} exited:\n{self.tail(service)}")
                if self.ready(service) == 200:
                    pending.discard(service)
            time.sleep(0.3)
        if pending:
            raise AssertionError(
                "not ready: " + ", ".join(f"{s}:\n{self.tail(s)}" for s in sorted(pending))
            )

    def ready(self, service: str, *, timeout: float = 15) -> int | None:
        """The status ``/readyz`` answers, or None when the process does not answer at all."""
        try:
            return httpx.get(f"{self.url(service)}/readyz", timeout=timeout).status_code
        except httpx.HTTPError:
            return None

    def kill(self, service: str) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or acked."""
        process = self.processes[service]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def restart(self, service: str, *, timeout: float = 120) -> None:
        """Start a killed (or stopped) service again and wait until it is ready."""
        if self.processes[service].poll() is None:
            raise RuntimeError(f"{service} is still running")
        self._spawn(service)
        self.wait_ready([service], timeout=timeout)

    def tail(self, service: str, size: int = 3000) -> str:
        path = self.log(service)
        return path.read_text(errors="replace")[-size:] if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


async def drop_prefixed(schema_prefix: str, queue_prefix: str) -> None:
    """Remove the schemas and the queues and exchanges a cluster created on the shared
    PostgreSQL and RabbitMQ (directly, not through any proxy)."""
    import asyncpg

    from tests.support.rabbit import delete_prefixed

    conn = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="test")
    try:
        for row in await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", schema_prefix
        ):
            await conn.execute(f'DROP SCHEMA "{row["nspname"]}" CASCADE')
    finally:
        await conn.close()
    await delete_prefixed("amqp://127.0.0.1:5672/", "guest", "guest", queue_prefix)
