"""``wildlens upload DIR``: an SD card into a project, against a platform serving on a port."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.support import bad_files
from tests.support.api import Site, bearer, create_site
from tests.support.platform import admin_token, embedded_settings, serving_in_thread
from wildlens.ingest.cli import STATE_FILE, Summary, upload_folder

WILDLENS = str(Path(sys.executable).with_name("wildlens"))
MEDIA = Path(__file__).resolve().parents[1] / "data" / "camtrap-dp" / "example" / "media"


@dataclass
class Served:
    url: str
    token: str
    site: Site


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The whole platform on the embedded backends, listening on a free port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = embedded_settings(tmp_path / "data").model_copy(update={"public_url": url})
    with serving_in_thread(settings, port):
        token = admin_token(settings)

        async def site() -> Site:
            async with httpx.AsyncClient(base_url=url) as client:
                return await create_site(client, token)

        yield Served(url, token, asyncio.run(site()))


def _card(root: Path) -> Path:
    """An SD card as a Reconyx leaves it, plus a captive portal's page saved as a photo."""
    folder = root / "DCIM" / "100RECNX"
    folder.mkdir(parents=True)
    for image in sorted(MEDIA.glob("*.JPG")):
        shutil.copy(image, folder / image.name)
    (folder / "RCNX9999.JPG").write_bytes(bad_files.html_named_jpg())
    (root / "notes.txt").write_text("battery 80%\n")
    (root / ".Trashes").mkdir()
    (root / ".Trashes" / "old.JPG").write_bytes(bad_files.small_jpeg())
    return root


def _run(served: Served, card: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WILDLENS_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [WILDLENS, "upload", str(card), "--project", served.site.project_id,
         "--deployment", served.site.deployment_id, "--url", served.url,
         "--token", served.token, "--workers", "4", *options],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def _count(output: str, row: str) -> int:
    found = re.search(rf"{re.escape(row)}\s*│\s*(\d+)", output)
    assert found, output
    return int(found.group(1))


def test_a_card_goes_up_once_and_rejections_are_explained(served: Served, tmp_path: Path) -> None:
    card = _card(tmp_path / "card")

    first = _run(served, card)
    # One file was refused, so the exit status says not everything made it.
    assert first.returncode == 1, first.stderr
    assert _count(first.stdout, "uploaded") == 10
    assert _count(first.stdout, "duplicates (already on the platform)") == 0
    assert _count(first.stdout, "rejected") == 1
    assert _count(first.stdout, "skipped (not images or videos)") == 1
    assert "DCIM/100RECNX/RCNX9999.JPG" in first.stdout
    assert "HTML" in first.stdout
    assert not (card / STATE_FILE).exists()  # nothing left to resume
    upload_id = re.search(r"Upload ([0-9a-f-]{36})", first.stdout)
    assert upload_id, first.stdout
    progress = httpx.get(
        f"{served.url}/v1/uploads/{upload_id.group(1)}", headers=bearer(served.token)
    ).json()
    assert progress["counts"]["ingested"] == 10
    assert progress["counts"]["rejected"] == 1

    again = _run(served, card)
    assert _count(again.stdout, "uploaded") == 0
    assert _count(again.stdout, "duplicates (already on the platform)") == 10
    assert _count(again.stdout, "rejected") == 1


def test_wait_lists_each_photo_once_the_catalogue_has_recorded_it(
    served: Served, tmp_path: Path
) -> None:
    card = tmp_path / "card"
    card.mkdir()
    for image in sorted(MEDIA.glob("*.JPG")):
        shutil.copy(image, card / image.name)
    shutil.copy(card / image.name, card / "copy-of-last.JPG")

    result = _run(served, card, "--wait")

    assert result.returncode == 0, result.stderr
    assert "Recorded by the catalogue: 11 files" in result.stdout
    rows = re.findall(
        r"^(\S+\.JPG)\s+([0-9a-f-]{36})\s+(\S+)\s+(\S+)\s+(\w+)$", result.stdout, re.M
    )
    assert len(rows) == 11, result.stdout
    # Each listed medium is there to be read, in the deployment, at the camera's time in UTC.
    by_name = {
        name: (medium, deployment, captured) for name, medium, deployment, captured, _ in rows
    }
    assert {deployment for _, deployment, _ in by_name.values()} == {served.site.deployment_id}
    assert by_name["20210531082538-RCNX0031.JPG"][2] == "2021-04-11T19:43:09Z"
    # The same bytes twice on the card are one medium.
    assert by_name["copy-of-last.JPG"][0] == by_name[image.name][0]
    assert len({medium for medium, _, _ in by_name.values()}) == 10
    for medium, _, captured in by_name.values():
        shown = httpx.get(f"{served.url}/v1/media/{medium}", headers=bearer(served.token))
        assert shown.status_code == 200
        assert shown.json()["captured_at"].replace("+00:00", "Z") == captured


class _Link(httpx.BaseTransport):
    """The network to the object store: counts PUTs, and can go down after a number of them."""

    def __init__(self, down_after: int | None = None) -> None:
        self._inner = httpx.HTTPTransport()
        self._down_after = down_after
        self._lock = threading.Lock()
        self.puts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            with self._lock:
                self.puts += 1
                down = self._down_after is not None and self.puts > self._down_after
            if down:
                raise httpx.ConnectError("the 4G link dropped", request=request)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def test_an_interrupted_upload_resumes_with_only_the_missing_files(
    served: Served, tmp_path: Path
) -> None:
    card = tmp_path / "card"
    (card / "DCIM").mkdir(parents=True)
    for image in sorted(MEDIA.glob("*.JPG")):
        shutil.copy(image, card / "DCIM" / image.name)

    def upload(link: _Link) -> Summary:
        with (
            httpx.Client(base_url=served.url, headers=bearer(served.token)) as api,
            httpx.Client(transport=link) as objects,
        ):
            return upload_folder(
                card, api=api, objects=objects, project=served.site.project_id, workers=1
            )

    flaky = _Link(down_after=3)
    interrupted = upload(flaky)
    assert len(interrupted.uploaded) == 3
    assert len(interrupted.pending) == 7
    assert "the 4G link dropped" in interrupted.pending[0][1]
    assert (card / STATE_FILE).exists()

    steady = _Link()
    resumed = upload(steady)
    assert steady.puts == 7
    assert len(resumed.uploaded) == 7
    assert len(resumed.duplicates) == 3
    assert resumed.pending == []
    assert resumed.upload_id == interrupted.upload_id
    assert not (card / STATE_FILE).exists()
