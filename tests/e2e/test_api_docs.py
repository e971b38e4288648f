"""The API's documentation pages work without the internet: every script, style sheet and
icon they load comes from the platform itself."""

from __future__ import annotations

import re

import pytest

from tests.support.platform import RunningPlatform

pytestmark = pytest.mark.services("catalogue")

_ASSET = re.compile(r"""(?:src|href|url)\s*[=:(]\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_documentation_loads_everything_from_the_platform(
    wl: RunningPlatform, page: str
) -> None:
    response = await wl.client.get(page)
    assert response.status_code == 200
    assets = [a for a in _ASSET.findall(response.text) if not a.startswith("#")]
    scripts = [a for a in assets if a.endswith(".js")]
    assert scripts, response.text
    # Nothing from elsewhere: no CDN, no web fonts.
    assert [a for a in assets if "://" in a or a.startswith("//")] == []
    for asset in assets:
        loaded = await wl.client.get(asset)
        assert loaded.status_code == 200, asset
        assert len(loaded.content) > 1000 or asset.endswith("openapi.json"), asset
    # The page reads the platform's own API description.
    assert "/openapi.json" in response.text
    assert (await wl.client.get("/openapi.json")).json()["info"]["title"]
