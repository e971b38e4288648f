"""Who reads ``/metrics``: in embedded mode (a laptop, a field station, often on a shared
network) only clients on the same machine and platform admins; in distributed mode anyone
who reaches it, as Prometheus does inside the cluster (the chart's NetworkPolicy decides who
that is)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import bearer
from tests.support.platform import RunningPlatform, user_token
from wildlens.common.settings import Settings

pytestmark = pytest.mark.services("catalogue")


def _from(wl: RunningPlatform, address: str) -> httpx.AsyncClient:
    """A client of the same app, seen by it as coming from ``address``."""
    transport = httpx.ASGITransport(app=wl.app, client=(address, 40123))
    return httpx.AsyncClient(transport=transport, base_url="http://wildlens.test")


async def test_metrics_are_for_this_machine_and_admins_in_embedded_mode(
    wl: RunningPlatform, settings: Settings, admin: str, backend: str
) -> None:
    viewer = user_token(settings, "viewer", {"*": "viewer"})
    for address in ("127.0.0.1", "::1"):
        async with _from(wl, address) as local:
            response = await local.get("/metrics")
            assert response.status_code == 200
            assert "wildlens_http_request_duration_seconds" in response.text
    async with _from(wl, "192.0.2.10") as remote:
        if backend == "embedded":
            response = await remote.get("/metrics")
            assert response.status_code == 401
            assert "wildlens_" not in response.text
            response = await remote.get("/metrics", headers=bearer(viewer))
            assert response.status_code == 403
            assert "wildlens_" not in response.text
            response = await remote.get("/metrics", headers={"Authorization": "Bearer nonsense"})
            assert response.status_code == 401
        else:
            response = await remote.get("/metrics")
            assert response.status_code == 200
        response = await remote.get("/metrics", headers=bearer(admin))
        assert response.status_code == 200
        assert "wildlens_http_request_duration_seconds" in response.text
