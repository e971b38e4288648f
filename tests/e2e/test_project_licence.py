"""A project's licence is what Camtrap DP can carry, an SPDX identifier or the licence's URL;
anything else is refused when set, so that it cannot make every later export of the project
fail its validation (found by fuzzing), and the package states it for the data and the media,
as Camtrap DP requires of a package that names licences."""

from __future__ import annotations

import json
import zipfile

import pytest

from tests.e2e.test_exchange_coco import export_zip
from tests.support.api import bearer, ok
from tests.support.platform import RunningPlatform

pytestmark = pytest.mark.services("catalogue")


async def test_a_licence_is_an_identifier_or_a_url(
    wl: RunningPlatform, admin: str, project: str
) -> None:
    url = f"/v1/projects/{project}"
    for wrong in ("\U0001bf1d\u00fc", "CC BY 4.0", '=HYPERLINK("http://x")', "ftp://x/y"):
        response = await wl.client.patch(url, json={"data_license": wrong}, headers=bearer(admin))
        assert response.status_code == 422, (wrong, response.text)
        assert ["body", "data_license"] in [f["location"] for f in response.json()["fields"]]
    licence = "https://creativecommons.org/licenses/by/4.0/"
    await ok(await wl.client.patch(url, json={"data_license": licence}, headers=bearer(admin)), 200)
    package = json.loads(_descriptor(await export_zip(wl, admin, project, "camtrap-dp")))
    assert package["licenses"] == [
        {"path": licence, "scope": "data"},
        {"path": licence, "scope": "media"},
    ]
    await ok(
        await wl.client.patch(url, json={"data_license": "CC0-1.0"}, headers=bearer(admin)), 200
    )
    package = json.loads(_descriptor(await export_zip(wl, admin, project, "camtrap-dp")))
    assert {"name": "CC0-1.0", "scope": "media"} in package["licenses"]


def _descriptor(archive: zipfile.ZipFile) -> bytes:
    """The package's ``datapackage.json``."""
    (name,) = [n for n in archive.namelist() if n.endswith("datapackage.json")]
    return archive.read(name)
