"""``wildlens import camtrap-dp`` and ``wildlens export camtrap-dp``: the catalogue's data in
and out over its API, from a laptop or a script."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from wildlens.common.cli.remote import DEFAULT_URL, TokenOption, UrlOption

__all__ = ["register"]

console = Console(stderr=True)
ProjectOption = Annotated[str, typer.Option("--project", help="The project's id.")]
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
    for problem in body.get("fields", [])[:50]:
        where = " ".join(
            f"{k}={problem[k]}" for k in ("resource", "row", "field") if problem.get(k)
        )
        message += f"\n  {where}: {problem.get('message', problem)}"
    raise CommandFailed(message)


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


def export_camtrap_dp(
    client: httpx.Client, project: str, out: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """Run an export of ``project``, wait for it, and download the zip to ``out``."""
    job = _check(client.post(f"/v1/projects/{project}/exports", json={"format": "camtrap-dp"}), 202)
    task = progress.add_task("exporting", total=1.0) if progress else None
    while job["status"] not in ("done", "failed"):
        time.sleep(_POLL_S)
        job = _check(client.get(f"/v1/projects/{project}/exports/{job['id']}"), 200)
        if progress and task is not None:
            progress.update(task, completed=job["progress"], description=job["status"])
    if job["status"] == "failed":
        raise CommandFailed(f"the export failed: {job['error']}")
    # A presigned S3 URL or the platform's own signed route; either way no token goes along.
    url = httpx.URL(client.base_url).join(job["download_url"])
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
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=_TIMEOUT
    )


def _group(app: typer.Typer, name: str, help_text: str) -> typer.Typer:
    # Several services add formats to ``wildlens import`` and ``wildlens export``; they share
    # one group each.
    for group in app.registered_groups:
        if group.name == name and group.typer_instance is not None:
            return group.typer_instance
    sub = typer.Typer(help=help_text, no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


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
    ) -> None:
        """Import a Camtrap DP package: all of it, or nothing and every problem listed."""
        try:
            with _client(url, token) as client, console.status("importing"):
                summary = import_camtrap_dp(client, project, path)
        except (CommandFailed, httpx.HTTPError) as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from error
        for table, n in summary["created"].items():
            console.print(f"{table}: {n} created")
        for table, n in summary["updated"].items():
            console.print(f"{table}: {n} updated")

    @exports.command("camtrap-dp")
    def export_command(
        project: ProjectOption,
        out: Annotated[Path, typer.Option("--out", help="Where to write the zip.")],
        url: UrlOption = DEFAULT_URL,
        token: TokenOption = "",
    ) -> None:
        """Export the project as a Camtrap DP package (a zip), waiting for the job."""
        columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
        try:
            with _client(url, token) as client, Progress(*columns, console=console) as bar:
                export_camtrap_dp(client, project, out, bar)
        except (CommandFailed, httpx.HTTPError) as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from error
        console.print(f"wrote {out}")
