"""The ``wildlens`` command line as a person uses it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

WILDLENS = str(Path(sys.executable).with_name("wildlens"))


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("WILDLENS_")}


def test_up_serves_everything_and_token_prints_a_token_it_accepts(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "field-laptop"
    log = (tmp_path / "up.log").open("wb")
    server = subprocess.Popen(
        [WILDLENS, "up", "--port", str(port), "--data", str(data)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_clean_env(),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "up.log").read_text()
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError((tmp_path / "up.log").read_text())

        first_start = (tmp_path / "up.log").read_text()
        assert "Created the admin identity" in first_start
        assert "wildlens token --role admin" in first_start

        token = subprocess.run(
            [WILDLENS, "token", "--role", "admin", "--data", str(data)],
            capture_output=True,
            text=True,
            check=True,
            env=_clean_env(),
        ).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(f"{base}/v1/projects", json={"name": "Field test"}, headers=headers)
        assert created.status_code == 201, created.text
        # Every service's routes are on the one port.
        spec = httpx.get(f"{base}/openapi.json").json()
        assert {
            "/v1/media",
            "/v1/projects",
            "/v1/media/{media_id}",
            "/v1/citsci/subject-sets",
            "/v1/models",
        } <= set(spec["paths"])
        ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
        assert len(ids) == len(set(ids))
        ready = httpx.get(f"{base}/readyz").json()
        assert set(ready["checks"]) >= {"bus", "storage", "database:catalogue", "database:ingest"}

        # A token from another data directory's key is refused.
        stranger = subprocess.run(
            [WILDLENS, "token", "--data", str(tmp_path / "elsewhere")],
            capture_output=True,
            text=True,
            check=True,
            env=_clean_env(),
        ).stdout.strip()
        refused = httpx.get(f"{base}/v1/projects", headers={"Authorization": f"Bearer {stranger}"})
        assert refused.status_code == 401
        assert refused.json()["error"] == "Unauthorized"
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_token_refuses_an_unknown_role(tmp_path: Path) -> None:
    result = subprocess.run(
        [WILDLENS, "token", "--role", "overlord", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        env=_clean_env(),
    )
    assert result.returncode == 2
    assert "unknown role" in result.stderr


def test_serve_names_the_installed_services_when_asked_for_another() -> None:
    result = subprocess.run(
        [WILDLENS, "serve", "billing"], capture_output=True, text=True, env=_clean_env()
    )
    assert result.returncode == 2
    assert "catalogue" in result.stderr
    assert "billing" in result.stderr


def test_migrate_brings_every_service_to_head(tmp_path: Path) -> None:
    result = subprocess.run(
        [WILDLENS, "migrate", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=True,
    )
    for service in ("catalogue", "ingest", "citsci", "training"):
        assert f"{service}: migrated to head" in result.stderr
        assert (tmp_path / "db" / f"{service}.sqlite").exists()


def _remote(*args: str, token: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    """A command that talks to a platform, with what a person's shell has exported."""
    env = {**_clean_env(), "WILDLENS_TOKEN": token, "COLUMNS": "300"}
    if url is not None:
        env["WILDLENS_URL"] = url
    return subprocess.run([WILDLENS, *args], capture_output=True, text=True, env=env, timeout=60)


def test_a_missing_token_is_explained_in_one_sentence(tmp_path: Path) -> None:
    # None at all, and one pasted with its header's word.
    for token, args in (
        ("", ["upload", str(tmp_path), "--project", "p"]),
        ("", ["export", "dwca", "--project", "p", "--out", str(tmp_path / "out.zip")]),
        ("Bearer eyJ.x.y", ["import", "coco", str(_coco_file(tmp_path)), "--project", "p"]),
    ):
        result = _remote(*args, token=token)
        assert result.returncode == 2, (args, token, result.stderr)
        assert "Traceback" not in result.stderr
        assert "Illegal header" not in result.stderr
        # One line, and it names the command that prints a token.
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "wildlens token --role admin" in result.stderr


def test_a_platform_that_does_not_answer_is_named_with_how_to_point_elsewhere(
    tmp_path: Path,
) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    card = tmp_path / "card"
    card.mkdir()
    (card / "RCNX0001.JPG").write_bytes(b"\xff\xd8\xff\xe0 a photo")
    uploaded = _remote("upload", str(card), "--project", "p", token="t.t.t", url=url)
    assert uploaded.returncode == 2
    exported = _remote(
        "export", "dwca", "--project", "p", "--out", str(tmp_path / "o.zip"), token="t.t.t", url=url
    )
    assert exported.returncode == 1
    for result in (uploaded, exported):
        assert f"Cannot reach the platform at {url}" in result.stderr, result.stderr
        assert "WILDLENS_URL" in result.stderr
        assert "Traceback" not in result.stderr


def _coco_file(folder: Path) -> Path:
    path = folder / "cct.json"
    path.write_text('{"images": [], "annotations": [], "categories": []}\n')
    return path


def test_token_ttl_sets_the_lifetime(tmp_path: Path) -> None:
    import jwt

    printed = subprocess.run(
        [WILDLENS, "token", "--ttl", "86400", "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        env=_clean_env(),
    ).stdout.strip()
    claims = jwt.decode(printed, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 86400
