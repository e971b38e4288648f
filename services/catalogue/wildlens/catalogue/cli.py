"""``wildlens import camtrap-dp|coco|megadetector|kso|ecotaxa`` and ``wildlens export
camtrap-dp|coco|megadetector|dwca|csv``: the catalogue's data in and out over its API, from a
laptop or a script.

Imports larger than ``JOB_ABOVE`` (or any, with ``--job``) go as an import job: the files are
PUT one by one, streamed from disk, to the URLs the platform hands out, and the job is
followed until it has imported them; smaller ones are sent in one request."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from wildlens.common.cli.remote import (
    DEFAULT_URL,
    TOKEN_REFUSED_HINT,
    TokenOption,
    UrlOption,
    bearer_headers,
    failure_message,
)

__all__ = ["register"]

console = Console(stderr=True)
ProjectOption = Annotated[str, typer.Option("--project", help="The project's id.")]
OffsetOption = Annotated[
    str,
    typer.Option("--utc-offset", help="The camera clocks' offset for times written without one."),
]
JobOption = Annotated[
    bool,
    typer.Option(
        "--job", help="Send the files as an import job, whatever their size (larger ones are)."
    ),
]
KSO_TABLES = ("sites", "movies", "species")
# Inputs larger than this go as an import job rather than in one request (whose upload limit
# is 256 MiB by default): no request holds them, and nothing here reads them into memory.
JOB_ABOVE = 64 << 20
StatusLine = Callable[[str], None]


@dataclass(frozen=True)
class JobRequest:
    """What an import command would send as an import job."""

    project: str
    kind: str
    path: Path
    utc_offset: str | None = None


_POLL_S = 0.5
_TIMEOUT = httpx.Timeout(30.0, read=600.0)


class CommandFailed(Exception):
    """The platform refused; the message says why."""


def _check(response: httpx.Response, *expected: int) -> Any:
    if response.status_code in expected:
        return response.json()
    try:
        body = response.json()
    except ValueError:
        raise CommandFailed(f"{response.status_code}: {response.text[:300]}") from None
    message = f"{response.status_code} {body.get('error', '')}: {body.get('detail', body)}"
    if response.status_code == 401:
        message += f". {TOKEN_REFUSED_HINT}"
    raise CommandFailed(message + _problems_text(body.get("fields", [])))


def _package_zip(path: Path) -> bytes:
    """The package at ``path`` (a zip, a folder, or its datapackage.json) as a zip."""
    if path.is_file() and path.suffix == ".zip":
        return path.read_bytes()
    folder = path.parent if path.is_file() else path
    if not (folder / "datapackage.json").is_file():
        raise CommandFailed(f"no datapackage.json in {folder}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(folder.rglob("*")):
            if item.is_file() and not item.name.startswith("."):
                archive.write(item, item.relative_to(folder).as_posix())
    return buffer.getvalue()


def import_camtrap_dp(client: httpx.Client, project: str, path: Path) -> dict[str, Any]:
    """Send the package at ``path`` to ``project``; the platform's summary."""
    response = client.post(
        f"/v1/projects/{project}/imports/camtrap-dp",
        files={"files": ("package.zip", _package_zip(path), "application/zip")},
    )
    result: dict[str, Any] = _check(response, 200)
    return result


def import_file(
    client: httpx.Client, project: str, kind: str, path: Path, utc_offset: str | None = None
) -> dict[str, Any]:
    """Send a COCO Camera Traps or MegaDetector JSON file to ``project``; the summary."""
    data = {"utc_offset": utc_offset} if utc_offset else {}
    with path.open("rb") as handle:
        response = client.post(
            f"/v1/projects/{project}/imports/{kind}",
            files={"file": (path.name, handle, "application/json")},
            data=data,
        )
    result: dict[str, Any] = _check(response, 200)
    return result


def kso_files(path: Path) -> list[Path]:
    """KSO's three CSVs in the folder ``path`` (or the folder of the file ``path``)."""
    folder = path.parent if path.is_file() else path
    found = []
    for table in KSO_TABLES:
        matches = sorted(p for p in folder.glob("*.csv") if table in p.name.lower())
        if len(matches) != 1:
            what = "no" if not matches else f"{len(matches)}"
            raise CommandFailed(f"{what} {table} CSV in {folder} (one file named *{table}*.csv)")
        found.append(matches[0])
    return found


def import_kso(
    client: httpx.Client, project: str, path: Path, utc_offset: str | None = None
) -> dict[str, Any]:
    """Send KSO's sites, movies and species CSVs to ``project``; the summary."""
    files = [("files", (p.name, p.read_bytes(), "text/csv")) for p in kso_files(path)]
    response = client.post(
        f"/v1/projects/{project}/imports/kso",
        files=files,
        data={"utc_offset": utc_offset} if utc_offset else {},
    )
    result: dict[str, Any] = _check(response, 200)
    return result


def _problems_text(problems: list[dict[str, Any]]) -> str:
    text = ""
    for problem in problems[:50]:
        where = " ".join(
            f"{k}={problem[k]}" for k in ("resource", "row", "field") if problem.get(k)
        ) or ".".join(str(part) for part in problem.get("location", []))
        text += f"\n  {where}: {problem.get('message', problem)}"
    return text


def job_files(kind: str, path: Path) -> list[tuple[str, Path]]:
    """The files an import job of ``kind`` sends from ``path``, with the names they go by: a
    Camtrap DP package's zip, or its folder's files by their paths in it."""
    if kind == "kso":
        return [(p.name, p) for p in kso_files(path)]
    if kind == "ecotaxa":
        return ecotaxa_files(path)
    if kind != "camtrap-dp" or (path.is_file() and path.suffix == ".zip"):
        return [(path.name, path)]
    folder = path.parent if path.is_file() else path
    if not (folder / "datapackage.json").is_file():
        raise CommandFailed(f"no datapackage.json in {folder}")
    return [
        (item.relative_to(folder).as_posix(), item)
        for item in sorted(folder.rglob("*"))
        if item.is_file() and not item.name.startswith(".")
    ]


def ecotaxa_files(path: Path) -> list[tuple[str, Path]]:
    """An EcoTaxa bundle's zip, or its folder's TSVs and images by their paths in it."""
    if path.is_file():
        if path.suffix.lower() != ".zip":
            raise CommandFailed(f"{path} is not a zip; give the bundle's zip or its folder")
        return [(path.name, path)]
    files = [
        (item.relative_to(path).as_posix(), item)
        for item in sorted(path.rglob("*"))
        if item.is_file() and not item.name.startswith(".")
    ]
    if not any(name.rsplit("/", 1)[-1].lower().startswith("ecotaxa_") for name, _ in files):
        raise CommandFailed(f"no ecotaxa_*.tsv in {path}")
    return files


def _put_file(client: httpx.Client, url: str, path: Path) -> None:
    # A presigned S3 URL or the platform's own signed route; no token goes along.
    target = httpx.URL(str(client.base_url)).join(url)
    with path.open("rb") as handle:
        response = httpx.put(target, content=handle, timeout=_TIMEOUT)
    if response.status_code not in (200, 204):
        raise CommandFailed(
            f"uploading {path} failed: {response.status_code} {response.text[:300]}"
        )


def import_by_job(
    client: httpx.Client,
    project: str,
    kind: str,
    files: list[tuple[str, Path]],
    utc_offset: str | None = None,
    status: StatusLine | None = None,
) -> dict[str, Any]:
    """Import ``files`` into ``project`` as an import job: make it, PUT the files, start it
    and wait for it; the summary."""
    say = status or (lambda _text: None)
    body: dict[str, Any] = {
        "format": kind,
        "files": [{"name": name, "size": path.stat().st_size} for name, path in files],
    }
    if utc_offset:
        body["options"] = {"utc_offset": utc_offset}
    jobs = f"/v1/projects/{project}/import-jobs"
    job = _check(client.post(jobs, json=body), 201)
    for n, (declared, (name, path)) in enumerate(zip(job["files"], files, strict=True)):
        say(f"uploading {name} ({n + 1} of {len(files)})")
        _put_file(client, declared["upload_url"], path)
    job = _check(client.post(f"{jobs}/{job['id']}/start"), 202)
    while job["status"] not in ("succeeded", "failed", "expired"):
        say(f"import job {job['id']}: {job['status']}")
        time.sleep(_POLL_S)
        job = _check(client.get(f"{jobs}/{job['id']}"), 200)
    if job["status"] != "succeeded":
        raise CommandFailed(
            f"the import job {job['status']}: {job['error']}" + _problems_text(job["problems"])
        )
    summary: dict[str, Any] = job["summary"]
    return summary


def import_with_progress(
    client: httpx.Client,
    project: str,
    kind: str,
    files: list[tuple[str, Path]],
    options: dict[str, Any],
    bar: Progress,
) -> dict[str, Any]:
    """Import ``files`` into ``project`` as an import job, with a bar for the bytes sent and
    one for the job; the summary."""
    body = {
        "format": kind,
        "files": [{"name": name, "size": path.stat().st_size} for name, path in files],
        "options": options,
    }
    jobs = f"/v1/projects/{project}/import-jobs"
    job = _check(client.post(jobs, json=body), 201)
    sending = bar.add_task("uploading", total=max(_size(files), 1))
    for declared, (_name, path) in zip(job["files"], files, strict=True):
        _put_file(client, declared["upload_url"], path)
        bar.advance(sending, path.stat().st_size)
    bar.update(sending, completed=max(_size(files), 1))
    importing = bar.add_task("importing", total=1.0)
    job = _check(client.post(f"{jobs}/{job['id']}/start"), 202)
    while job["status"] not in ("succeeded", "failed", "expired"):
        bar.update(importing, description=f"import {job['status']}")
        time.sleep(_POLL_S)
        job = _check(client.get(f"{jobs}/{job['id']}"), 200)
    if job["status"] != "succeeded":
        raise CommandFailed(
            f"the import job {job['status']}: {job['error']}" + _problems_text(job["problems"])
        )
    bar.update(importing, completed=1.0, description="imported")
    summary: dict[str, Any] = job["summary"]
    return summary


def _size(files: list[tuple[str, Path]]) -> int:
    return sum(path.stat().st_size for _, path in files)


def export(
    client: httpx.Client,
    project: str,
    export_format: str,
    out: Path,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Run an export of ``project``, wait for it, and download the zip to ``out``."""
    job = _check(
        client.post(f"/v1/projects/{project}/exports", json={"format": export_format}), 202
    )
    task = progress.add_task(job["status"], total=1.0) if progress else None
    while job["status"] not in ("done", "failed"):
        time.sleep(_POLL_S)
        job = _check(client.get(f"/v1/projects/{project}/exports/{job['id']}"), 200)
        if progress and task is not None:
            progress.update(task, completed=job["progress"], description=job["status"])
    if job["status"] == "failed":
        raise CommandFailed(f"the export failed: {job['error']}")
    # A presigned S3 URL or the platform's own signed route; either way no token goes along.
    url = httpx.URL(str(client.base_url)).join(job["download_url"])
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    with httpx.stream("GET", url, timeout=_TIMEOUT) as response:
        if response.status_code != 200:
            raise CommandFailed(f"download failed: {response.status_code}")
        with partial.open("wb") as sink:
            for chunk in response.iter_bytes(1 << 20):
                sink.write(chunk)
    partial.replace(out)
    if progress and task is not None:
        progress.update(task, completed=1.0, description="downloaded")
    result: dict[str, Any] = job
    return result


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers=bearer_headers(token), timeout=_TIMEOUT)


def _fail(error: Exception, url: str) -> typer.Exit:
    console.print(failure_message(error, url), style="red", markup=False, soft_wrap=True)
    return typer.Exit(1)


def _group(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    # Several services add formats to ``wildlens import`` and ``wildlens export``; they share
    # one group each.
    for group in app.registered_groups:
        if group.name == name and group.typer_instance is not None:
            return group.typer_instance
    sub = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


def _print_summary(summary: dict[str, Any]) -> None:
    for word in ("created", "updated", "unchanged"):
        for table, n in summary.get(word, {}).items():
            console.print(f"{table}: {n} {word}")


def _run_import(
    send: Callable[[httpx.Client], dict[str, Any]],
    url: str,
    token: str,
    job: JobRequest,
    force_job: bool = False,
) -> None:
    """``send`` in one request, or, for inputs above ``JOB_ABOVE`` (or with ``--job``), as the
    import job ``job`` with its status on one line."""
    try:
        with _client(url, token) as client, console.status("importing") as line:
            files = job_files(job.kind, job.path)
            if force_job or _size(files) > JOB_ABOVE:
                summary = import_by_job(
                    client, job.project, job.kind, files, job.utc_offset, line.update
                )
            else:
                summary = send(client)
    except (CommandFailed, httpx.HTTPError, OSError) as error:
        raise _fail(error, url) from error
    _print_summary(summary)


def _add_export(exports: typer.Typer, export_format: str, help_text: str) -> None:
    @exports.command(export_format, help=help_text)
    def export_command(
        project: ProjectOption,
        out: Annotated[Path, typer.Option("--out", help="Where to write the zip.")],
        url: UrlOption = DEFAULT_URL,
        token: TokenOption = "",
    ) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
        try:
            with _client(url, token) as client, Progress(*columns, console=console) as bar:
                export(client, project, export_format, out, bar)
        except (CommandFailed, httpx.HTTPError, OSError) as error:
            raise _fail(error, url) from error
        console.print(f"wrote {out}")


EXPORT_HELP = {
    "camtrap-dp": "Export the project as a Camtrap DP package (a zip), waiting for the job.",
    "coco": "Export the project as COCO Camera Traps JSON (coco.json in a zip).",
    "megadetector": "Export machine results as MegaDetector batch output 1.6 (in a zip).",
    "dwca": "Export a Darwin Core Archive for GBIF: events, occurrences and absences.",
    "csv": "Export a flat CSV of observations with media, deployment and location (zipped).",
}


def register(app: typer.Typer) -> None:
    imports = _group(app, "import", "Import data into a project.")
    exports = _group(app, "export", "Export a project's data.")

    @imports.command("camtrap-dp")
    def import_command(
        path: Annotated[
            Path, typer.Argument(exists=True, help="A package: zip, folder or datapackage.json.")
        ],
        project: ProjectOption,
        url: UrlOption = DEFAULT_URL,
        token: TokenOption = "",
        job: JobOption = False,
    ) -> None:
        """Import a Camtrap DP package: all of it, or nothing and every problem listed."""
        _run_import(
            lambda client: import_camtrap_dp(client, project, path),
            url,
            token,
            JobRequest(project, "camtrap-dp", path),
            job,
        )

    @imports.command("coco")
    def import_coco_command(
        path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A JSON file.")],
        project: ProjectOption,
        utc_offset: OffsetOption = "+00:00",
        url: UrlOption = DEFAULT_URL,
        token: TokenOption = "",
        job: JobOption = False,
    ) -> None:
        """Import a COCO Camera Traps file: all of it, or nothing and every problem listed."""
        _run_import(
            lambda client: import_file(client, project, "coco", path, utc_offset),
            url,
            token,
            JobRequest(project, "coco", path, utc_offset),
            job,
        )

    @imports.command("megadetector")
    def import_megadetector_command(
        path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A JSON file.")],
        project: ProjectOption,
        url: UrlOption = DEFAULT_URL,
        token: TokenOption = "",
        job: JobOption = False,
    ) -> None:
        """Attach MegaDetector batch results (format 1.6) to the project's media."""
        _run_import(
            lambda client: import_file(client, project, "megadetector", path),
            url,
            token,
            JobRequest(project, "megadetector", path),
            job,
        )

    @imports.command("kso")
    def import_kso_command(
        path: Annotated[
            Path, typer.Argument(exists=True, help="The folder with KSO's three CSVs.")
        ],
        project: ProjectOption,
        utc_offset: OffsetOption = "+00:00",
        url: UrlOption = DEFAULT_URL,
        token: TokenOption = "",
        job: JobOption = False,
    ) -> None:
        """Import KSO's sites, movies and species CSVs: all of them, or nothing."""
        _run_import(
            lambda client: import_kso(client, project, path, utc_offset),
            url,
            token,
            JobRequest(project, "kso", path, utc_offset),
            job,
        )

    @imports.command("ecotaxa")
    def import_ecotaxa_command(
        path: Annotated[
            Path, typer.Argument(exists=True, help="The bundle: a zip, or its folder.")
        ],
        project: ProjectOption,
        coordinates: Annotated[
            str,
            typer.Option(
                "--coordinates",
                help="How bare numbers in object_lat/lon read: decimal, or dm (DD.MMmm).",
            ),
        ] = "decimal",
        accept_unknown: Annotated[
            bool,
            typer.Option(
                "--accept-unknown",
                help="Import categories that match no taxon unlinked, and list them.",
            ),
        ] = False,
        utc_offset: OffsetOption = "+00:00",
        url: UrlOption = DEFAULT_URL,
        token: TokenOption = "",
    ) -> None:
        """Import an EcoTaxa TSV bundle as single objects: all of it, or nothing and every
        problem listed."""
        if coordinates not in ("decimal", "dm"):
            raise typer.BadParameter("decimal or dm", param_hint="--coordinates")
        options = {
            "utc_offset": utc_offset,
            "coordinates": coordinates,
            "accept_unknown": accept_unknown,
        }
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
        )
        try:
            files = ecotaxa_files(path)
            with _client(url, token) as client, Progress(*columns, console=console) as bar:
                summary = import_with_progress(client, project, "ecotaxa", files, options, bar)
        except (CommandFailed, httpx.HTTPError, OSError) as error:
            raise _fail(error, url) from error
        _print_summary(summary)
        for name in summary.get("unmatched", []):
            console.print(f"not matched to a taxon: {name}", markup=False)

    for export_format, help_text in EXPORT_HELP.items():
        _add_export(exports, export_format, help_text)
