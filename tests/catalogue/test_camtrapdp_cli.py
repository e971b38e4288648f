"""``wildlens import camtrap-dp|ecotaxa`` and ``wildlens export camtrap-dp`` against
``wildlens up``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.support.camtrapdp import EXAMPLE, validate
from tests.support.ecotaxa import CLASSES, EcoRow, write_bundle

WILDLENS = str(Path(sys.executable).with_name("wildlens"))


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("WILDLENS_")}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A platform running as ``wildlens up`` on a free port, and an admin token for it; one
    for the module (starting it takes seconds), each test importing into a project of its own."""
    folder = tmp_path_factory.mktemp("platform")
    port, data = free_port(), folder / "data"
    log_path = folder / "up.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [WILDLENS, "up", "--port", str(port), "--data", str(data)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_env(),
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        token = subprocess.run(
            [WILDLENS, "token", "--role", "admin", "--data", str(data)],
            capture_output=True,
            text=True,
            check=True,
            env=_env(),
        ).stdout.strip()
        yield base, token
    finally:
        server.terminate()
        server.wait(timeout=30)


def _wildlens(*args: str, url: str, token: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [WILDLENS, *args, "--url", url],
        capture_output=True,
        text=True,
        env={**_env(), "WILDLENS_TOKEN": token},
        timeout=120,
    )


def test_import_then_export_from_the_command_line(
    platform: tuple[str, str], tmp_path: Path
) -> None:
    url, token = platform
    created = httpx.post(
        f"{url}/v1/projects", json={"name": "MICA"}, headers={"Authorization": f"Bearer {token}"}
    )
    pid = created.json()["id"]

    imported = _wildlens(
        "import", "camtrap-dp", str(EXAMPLE), "--project", pid, url=url, token=token
    )
    assert imported.returncode == 0, imported.stderr
    assert "media: 423 created" in imported.stderr
    assert "observations: 549 created" in imported.stderr

    out = tmp_path / "mica.zip"
    exported = _wildlens(
        "export", "camtrap-dp", "--project", pid, "--out", str(out), url=url, token=token
    )
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(out) as archive:
        archive.extractall(tmp_path / "mica")
    assert validate(tmp_path / "mica" / "datapackage.json").valid

    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("datapackage.json", "deployments.csv", "observations.csv"):
        (broken / name).write_bytes((EXAMPLE / name).read_bytes())
    (broken / "media.csv").write_text(
        (EXAMPLE / "media.csv").read_text().replace("07840dcc,00a2c20d,", "07840dcc,nosuchdep,", 1)
    )
    refused = _wildlens("import", "camtrap-dp", str(broken), "--project", pid, url=url, token=token)
    assert refused.returncode == 1
    assert "422 Invalid" in refused.stderr
    assert "resource=media" in refused.stderr


def test_an_import_job_from_the_command_line(platform: tuple[str, str], tmp_path: Path) -> None:
    """With ``--job`` (as for a package larger than one request takes) the files are PUT one
    by one and the job followed to its end: the same summary, or the same problems."""
    url, token = platform
    created = httpx.post(
        f"{url}/v1/projects", json={"name": "MICA"}, headers={"Authorization": f"Bearer {token}"}
    )
    pid = created.json()["id"]

    imported = _wildlens(
        "import", "camtrap-dp", str(EXAMPLE), "--project", pid, "--job", url=url, token=token
    )
    assert imported.returncode == 0, imported.stderr
    assert "media: 423 created" in imported.stderr
    assert "observations: 549 created" in imported.stderr
    jobs = httpx.get(
        f"{url}/v1/projects/{pid}/import-jobs", headers={"Authorization": f"Bearer {token}"}
    ).json()
    assert [job["status"] for job in jobs["items"]] == ["succeeded"]

    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("datapackage.json", "deployments.csv", "observations.csv"):
        (broken / name).write_bytes((EXAMPLE / name).read_bytes())
    (broken / "media.csv").write_text(
        (EXAMPLE / "media.csv").read_text().replace("07840dcc,00a2c20d,", "07840dcc,nosuchdep,", 1)
    )
    refused = _wildlens(
        "import", "camtrap-dp", str(broken), "--project", pid, "--job", url=url, token=token
    )
    assert refused.returncode == 1
    assert "the import job failed" in refused.stderr
    assert "resource=media" in refused.stderr


def test_an_ecotaxa_bundle_from_the_command_line(platform: tuple[str, str], tmp_path: Path) -> None:
    url, token = platform
    created = httpx.post(
        f"{url}/v1/projects",
        json={"name": "Plankton"},
        headers={"Authorization": f"Bearer {token}"},
    )
    pid = created.json()["id"]
    rows = [EcoRow(f"o{n}", kind, 10 + 4 * n) for n, kind in enumerate(CLASSES)]
    write_bundle(tmp_path / "bundle", rows)

    # The platform's tree has no Copepoda: refused with the row and column named...
    refused = _wildlens(
        "import", "ecotaxa", str(tmp_path / "bundle"), "--project", pid, url=url, token=token
    )
    assert refused.returncode == 1, refused.stderr
    assert "resource=s1/ecotaxa_s1.tsv row=3 field=object_annotation_category" in refused.stderr

    # ...and imported unlinked when accepted, the rest as morphological categories.
    imported = _wildlens(
        "import",
        "ecotaxa",
        str(tmp_path / "bundle"),
        "--project",
        pid,
        "--accept-unknown",
        url=url,
        token=token,
    )
    assert imported.returncode == 0, imported.stderr
    assert "media: 3 created" in imported.stderr
    assert "features: 12 created" in imported.stderr
    assert "not matched to a taxon: Copepoda" in imported.stderr
