"""Validating Camtrap DP packages offline with frictionless, against the official profile.

The profile insists on the canonical schema URLs, so they stay, and a requests transport
adapter answers them from the copies in ``tests/data`` (the GeoJSON profile the Data Package
profile refers to ships inside frictionless). Anything else is answered 404: a test never
reaches the network. This is deliberately independent of the catalogue's own validator.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import frictionless
import requests
import urllib3
from requests.adapters import BaseAdapter

DATA = Path(__file__).resolve().parents[1] / "data"
CAMTRAP_DP = DATA / "camtrap-dp"
EXAMPLE = CAMTRAP_DP / "example"
_BASE = "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2/"

SCHEMAS: dict[str, Path] = {
    **{
        _BASE + name: CAMTRAP_DP / name
        for name in (
            "camtrap-dp-profile.json",
            "deployments-table-schema.json",
            "media-table-schema.json",
            "observations-table-schema.json",
        )
    },
    "https://specs.frictionlessdata.io/schemas/data-package.json": (
        DATA / "frictionless" / "data-package.json"
    ),
    "http://json.schemastore.org/geojson.json": (
        Path(frictionless.__file__).parent / "assets" / "profiles" / "geojson.json"
    ),
}


class _Schemas(BaseAdapter):
    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        path = SCHEMAS.get(str(request.url))
        response = requests.Response()
        response.status_code = 200 if path else 404
        response.url = str(request.url)
        response.request = request
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(path.read_bytes() if path else b""),
            status=response.status_code,
            preload_content=False,
        )
        return response

    def close(self) -> None:
        pass


def validate(descriptor: Path) -> frictionless.Report:
    """frictionless's report on the package whose datapackage.json is ``descriptor``."""
    session = requests.Session()
    session.mount("https://", _Schemas())
    session.mount("http://", _Schemas())
    with frictionless.system.use_context(http_session=session):
        report: frictionless.Report = frictionless.validate(str(descriptor))
    return report


def error_types(report: frictionless.Report) -> set[str]:
    return {e.type for e in report.errors} | {e.type for t in report.tasks for e in t.errors}


def zip_folder(folder: Path) -> bytes:
    """A package folder as the zip a user would upload."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()
