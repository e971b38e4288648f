"""Validating a Camtrap DP package with frictionless, offline.

The profile requires each resource's ``schema`` to be the canonical raw.githubusercontent.com
URL, so the URLs stay as they are and a requests transport adapter answers them from the
copies shipped in ``profile/``. Every other URL is refused: a package must not make the
catalogue fetch anything from the network.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import frictionless
import requests
import urllib3
from requests.adapters import BaseAdapter

from wildlens.catalogue.exchange.problems import FileProblem
from wildlens.common.offload import StopFlag

__all__ = ["PROFILE_URL", "VERSION", "canonical_files", "validate_descriptor"]

VERSION = "1.0.2"
_BASE = f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/"
PROFILE_URL = f"{_BASE}camtrap-dp-profile.json"
_PROFILE_DIR = Path(__file__).parent / "profile"
_FRICTIONLESS_ASSETS = Path(frictionless.__file__).parent / "assets" / "profiles"
# frictionless keeps its HTTP session process-wide; validations take turns.
_LOCK = threading.Lock()


def canonical_files(profile_dir: Path = _PROFILE_DIR) -> dict[str, Path]:
    """The URLs a Camtrap DP package refers to, and the local files that answer them."""
    files = {
        f"{_BASE}{name}": profile_dir / name
        for name in (
            "camtrap-dp-profile.json",
            "deployments-table-schema.json",
            "media-table-schema.json",
            "observations-table-schema.json",
        )
    }
    files["https://specs.frictionlessdata.io/schemas/data-package.json"] = (
        profile_dir / "data-package.json"
    )
    files["http://json.schemastore.org/geojson.json"] = _FRICTIONLESS_ASSETS / "geojson.json"
    return files


class _LocalFiles(BaseAdapter):
    def __init__(self, files: dict[str, Path]) -> None:
        super().__init__()
        self.files = files

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        path = self.files.get(str(request.url))
        body = path.read_bytes() if path is not None else b""
        response = requests.Response()
        response.status_code = 200 if path is not None else 404
        response.reason = "OK" if path is not None else "Not Found (offline)"
        response.url = str(request.url)
        response.request = request
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(body), status=response.status_code, preload_content=False
        )
        return response

    def close(self) -> None:
        pass


def offline_session(files: dict[str, Path]) -> requests.Session:
    session = requests.Session()
    adapter = _LocalFiles(files)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@attrs.define(kw_only=True, repr=False)
class _Stoppable(frictionless.Check):
    """Looks at the stop flag on every row, so that a cancelled import stops validating."""

    type = "wildlens-stoppable"
    flag: Any = None

    def validate_row(self, row: frictionless.Row) -> Iterator[frictionless.Error]:
        if self.flag is not None:
            self.flag.check()
        yield from ()


def validate_descriptor(
    descriptor: Path, files: dict[str, Path] | None = None, stop: StopFlag | None = None
) -> list[FileProblem]:
    """Every problem frictionless finds in the package at ``descriptor`` (a datapackage.json),
    with the resource, row and field it is in where known; empty when it is valid."""
    session = offline_session(files if files is not None else canonical_files())
    with _LOCK, frictionless.system.use_context(http_session=session, trusted=False):
        report = frictionless.validate(
            str(descriptor), limit_errors=1000, checks=[_Stoppable(flag=stop)]
        )
    problems = [FileProblem.at(None, error.message, type=error.type) for error in report.errors]
    for task in report.tasks:
        for error in task.errors:
            problems.append(
                FileProblem.at(
                    task.name,
                    error.message,
                    type=error.type,
                    row=getattr(error, "row_number", None),
                    field=getattr(error, "field_name", None),
                )
            )
    return problems
