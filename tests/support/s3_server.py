"""An S3 server (moto) of a test's own, which the test may stop and start again: the shared one
in ``tests/conftest.py`` serves every other test and stays up.

Stopped, its port refuses connections, as a crashed or restarted S3 server's would; started
again on the same port, it still holds every object (moto keeps them in this process).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from minio import Minio
from moto.server import ThreadedMotoServer

from tests.support.cluster import free_port

__all__ = ["StoppableS3"]

ACCESS_KEY, SECRET_KEY, REGION = "wildlens-faults", "wildlens-faults-secret", "us-east-1"


class StoppableS3:
    def __init__(self) -> None:
        self.port = free_port()
        self.access_key, self.secret_key, self.region = ACCESS_KEY, SECRET_KEY, REGION
        self._server: ThreadedMotoServer | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, bucket: str) -> str:
        return f"s3://{self.endpoint}/{bucket}?secure=false&region={self.region}"

    def client(self) -> Minio:
        """A client that reads the bucket directly, for checks."""
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            region=self.region,
        )

    def start(self) -> StoppableS3:
        # Its request log (one line per object written) would drown what a run prints.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        if self._server is None:
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            self._server.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        self.stop()
        try:
            yield
        finally:
            self.start()
