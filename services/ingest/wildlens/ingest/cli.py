"""``wildlens upload DIR``: an SD card (or any folder) into a project, through bulk uploads.

The folder is hashed first, so that only what the platform does not have goes over the link.
The upload's id is remembered in ``.wildlens-upload.json`` in the folder until every file is
settled; running the command again resumes it. Where the folder is read-only (a locked card)
nothing is remembered, and the platform's dedup by content still skips what already arrived.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from wildlens.common.cli.remote import (
    DEFAULT_URL,
    TOKEN_REFUSED_HINT,
    TokenOption,
    UrlOption,
    bearer_headers,
    failure_message,
)
from wildlens.ingest.upload_wait import WaitFailed, print_recorded, wait_until_recorded

__all__ = ["STATE_FILE", "Summary", "register", "upload_folder"]

STATE_FILE = ".wildlens-upload.json"
# What camera traps and underwater rigs write; anything else on a card (settings files,
# thumbnails databases) is left alone rather than uploaded only to be refused.
MEDIA_SUFFIXES = {
    ".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".heic", ".heif",
    ".mp4", ".mov", ".avi",
}  # fmt: skip
_CHUNK = 1 << 20
# The platform's default page; a smaller configured limit is learnt from its 422.
_PAGE = 1000
_PUT_ATTEMPTS = 3


@dataclass(frozen=True)
class LocalFile:
    path: Path
    name: str  # relative to the folder, with forward slashes
    size: int
    sha256: str


@dataclass
class Summary:
    uploaded: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    pending: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    upload_id: str | None = None
    # Every file the platform holds now (uploaded or already there), by name: its medium.
    media: dict[str, str] = field(default_factory=dict)


class UploadFailed(Exception):
    """The platform refused the upload as a whole; the message says why."""


class _PageTooLarge(Exception):
    """The platform takes fewer files per manifest page than were sent."""


def _media_files(folder: Path) -> tuple[list[Path], list[str]]:
    found: list[Path] = []
    skipped: list[str] = []
    for root, dirs, names in os.walk(folder):
        # Hidden folders and files: the state file, .Trashes, ._ resource forks, .DS_Store.
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(root) / name
            if name.startswith(".") or not path.is_file():
                continue
            if path.suffix.lower() in MEDIA_SUFFIXES:
                found.append(path)
            else:
                skipped.append(path.relative_to(folder).as_posix())
    return found, skipped


def _hash(path: Path, folder: Path) -> LocalFile:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return LocalFile(path, path.relative_to(folder).as_posix(), size, digest.hexdigest())


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"{response.status_code}: {response.text[:200]}"
    return str(body.get("detail", body)) if isinstance(body, dict) else str(body)


def _check(response: httpx.Response, *expected: int) -> Any:
    if response.status_code not in expected:
        hint = f" {TOKEN_REFUSED_HINT}" if response.status_code == 401 else ""
        raise UploadFailed(f"{response.request.method} {response.request.url.path}: "
                           f"{_detail(response)}{hint}")  # fmt: skip
    return response.json()


class _State:
    """The upload id remembered in the folder, for the same platform and project only."""

    def __init__(self, folder: Path, url: str, project: str) -> None:
        self._path = folder / STATE_FILE
        self._key = {"url": url.rstrip("/"), "project_id": project}

    def load(self) -> str | None:
        try:
            saved = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(saved, dict) or {k: saved.get(k) for k in self._key} != self._key:
            return None
        upload_id = saved.get("upload_id")
        return upload_id if isinstance(upload_id, str) else None

    def save(self, upload_id: str) -> None:
        try:
            self._path.write_text(json.dumps({**self._key, "upload_id": upload_id}) + "\n")
        except OSError:
            pass  # a write-protected card: resuming then relies on dedup by content

    def clear(self) -> None:
        try:
            self._path.unlink(missing_ok=True)
        except OSError:
            pass


class _Uploader:
    def __init__(
        self,
        api: httpx.Client,
        objects: httpx.Client,
        progress: Progress,
        workers: int,
        summary: Summary,
        files: list[LocalFile],
    ) -> None:
        self.api, self.objects, self.progress = api, objects, progress
        self.workers = workers
        self.summary = summary
        self.sending: TaskID = progress.add_task("Uploading", total=0)
        self.files = files
        # The medium the platform holds for each content, once it says so.
        self.media_ids: dict[str, str] = {}
        # The same bytes twice on a card (copied folders) are uploaded once.
        self.first: dict[str, LocalFile] = {}
        for local in files:
            if local.sha256 in self.first:
                summary.duplicates.append(local.name)
            else:
                self.first[local.sha256] = local
        self.names = {sha: local.name for sha, local in self.first.items()}
        # Files whose fate is not known yet.
        self.unsettled = set(self.first)

    # -- talking to the platform ---------------------------------------------------------

    def complete(self, upload_id: str) -> None:
        done = _check(self.api.post(f"/v1/uploads/{upload_id}/complete"), 200)
        for entry in done["processed"]:
            self.settled(entry)

    def settled(self, entry: dict[str, Any]) -> None:
        name = self.names.get(entry["sha256"], entry["name"])
        self._note_medium(entry)
        if entry["state"] == "ingested":
            self.summary.uploaded.append(name)
        elif entry["state"] == "rejected":
            self.summary.rejected.append((name, entry.get("error") or "rejected"))
        self.unsettled.discard(entry["sha256"])

    def _note_medium(self, entry: dict[str, Any]) -> None:
        if entry.get("media_id") and entry["state"] in ("already_have", "ingested"):
            self.media_ids[entry["sha256"]] = str(entry["media_id"])

    def send_page(
        self, upload_id: str | None, page: list[LocalFile], create: dict[str, Any]
    ) -> Any:
        """Post one manifest page; drops entries the platform refuses outright and retries."""
        page = list(page)
        while True:
            files = [{"name": f.name, "size": f.size, "sha256": f.sha256} for f in page]
            if upload_id is None:
                response = self.api.post("/v1/uploads", json={**create, "files": files})
            else:
                response = self.api.post(f"/v1/uploads/{upload_id}/files", json={"files": files})
            if response.status_code != 422 or not page:
                return _check(response, 200, 201)
            if ["body", "files"] in [f.get("location") for f in response.json().get("fields", [])]:
                raise _PageTooLarge
            bad = self._refused_entries(response)
            if not bad:
                return _check(response, 200, 201)
            for i in sorted(bad, reverse=True):
                refused = page.pop(i)
                self.summary.rejected.append((refused.name, bad[i]))
                self.unsettled.discard(refused.sha256)
            if not page and upload_id is not None:
                return {"files": []}

    @staticmethod
    def _refused_entries(response: httpx.Response) -> dict[int, str]:
        body = response.json()
        bad: dict[int, str] = {}
        for item in body.get("fields", []):
            location = item.get("location", [])
            if len(location) >= 3 and location[:2] == ["body", "files"]:
                if isinstance(location[2], int):
                    bad[location[2]] = body.get("detail") or item.get("message", "refused")
        return bad

    # -- moving bytes ----------------------------------------------------------------------

    def _chunks(self, path: Path, sent: list[int]) -> Iterator[bytes]:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                self.progress.advance(self.sending, len(chunk))
                sent[0] += len(chunk)
                yield chunk

    def put(self, local: LocalFile, url: str) -> str | None:
        """PUT one file; the reason it failed, or None."""
        reason = "not sent"
        for _ in range(_PUT_ATTEMPTS):
            sent = [0]
            try:
                response = self.objects.put(
                    url,
                    content=self._chunks(local.path, sent),
                    # Explicit, so that the body is not sent chunked: S3 refuses that.
                    headers={
                        "Content-Length": str(local.size),
                        "Content-Type": "application/octet-stream",
                    },
                )
            except httpx.HTTPError as exc:
                reason = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 200:
                    return None
                reason = f"storage answered {response.status_code}"
                if response.status_code < 500:
                    return reason
            # Give back what this attempt counted, so the bar stays honest.
            self.progress.advance(self.sending, -sent[0])
        return reason

    def run(self, state: _State, create: dict[str, Any]) -> None:
        unique = list(self.first.values())

        upload_id = state.load()
        if upload_id is not None:
            resumed = self.api.post(f"/v1/uploads/{upload_id}/complete")
            if resumed.status_code == 404:
                upload_id = None  # forgotten by the platform, or another platform's
            else:
                # Files PUT before the interruption are verified before anything is resent.
                for entry in _check(resumed, 200)["processed"]:
                    self.settled(entry)
        page_size = _PAGE
        start = 0
        while start < len(unique):
            page = [f for f in unique[start : start + page_size] if f.sha256 in self.unsettled]
            if not page:
                start += page_size
                continue
            try:
                answer = self.send_page(upload_id, page, create)
            except _PageTooLarge:
                if page_size == 1:
                    raise UploadFailed("the platform refuses even one file per page") from None
                page_size = max(1, page_size // 2)
                continue
            if upload_id is None:
                upload_id = str(answer["id"])
                self.summary.upload_id = upload_id
                state.save(upload_id)
            self._put_page(answer["files"])
            self.complete(upload_id)
            start += page_size
        self.summary.upload_id = upload_id
        failed = {name for name, _ in self.summary.pending}
        for sha in sorted(self.unsettled, key=lambda s: self.names[s]):
            if self.names[sha] not in failed:
                self.summary.pending.append((self.names[sha], "not uploaded yet"))
        if upload_id is not None and not self.summary.pending:
            state.clear()
        self.summary.media = {
            local.name: self.media_ids[local.sha256]
            for local in self.files
            if local.sha256 in self.media_ids
        }

    def _put_page(self, entries: list[dict[str, Any]]) -> None:
        todo: list[tuple[LocalFile, str]] = []
        for entry in entries:
            if entry["sha256"] not in self.unsettled:
                continue
            if entry["state"] in ("already_have", "ingested"):
                self._note_medium(entry)
                self.summary.duplicates.append(self.names[entry["sha256"]])
                self.unsettled.discard(entry["sha256"])
            elif entry["state"] == "rejected":
                self.settled(entry)
            elif entry.get("upload_url"):
                todo.append((self.first[entry["sha256"]], entry["upload_url"]))
        task = self.progress.tasks[self.sending]
        self.progress.update(
            self.sending, total=(task.total or 0) + sum(local.size for local, _ in todo)
        )
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            failures = list(pool.map(lambda job: (job[0], self.put(*job)), todo))
        for local, reason in failures:
            if reason is not None:
                self.summary.pending.append((local.name, reason))


def upload_folder(
    folder: Path,
    *,
    api: httpx.Client,
    objects: httpx.Client,
    project: str,
    deployment: str | None = None,
    device: str | None = None,
    workers: int = 4,
    console: Console | None = None,
) -> Summary:
    """Upload every media file below ``folder``; what happened to each, by outcome.

    Args:
        folder: the card or folder.
        api: a client for the platform's API, with its base URL and token.
        objects: a client for the PUT URLs (no token: they are signed).
        project: the project id.
        deployment: the deployment every file belongs to, if known.
        device: the camera, for device tokens that cover several.
        workers: files hashed and uploaded at once.
        console: where the progress bars go.

    Raises:
        UploadFailed: the platform refused the upload as a whole.
    """
    summary = Summary()
    paths, summary.skipped = _media_files(folder)
    empty = [p for p in paths if p.stat().st_size == 0]
    summary.rejected.extend((p.relative_to(folder).as_posix(), "file is empty") for p in empty)
    paths = [p for p in paths if p not in set(empty)]
    create: dict[str, Any] = {"project_id": project}
    if deployment:
        create["deployment_id"] = deployment
    if device:
        create["device_id"] = device
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console or Console(stderr=True), transient=False) as progress:
        hashing = progress.add_task("Hashing", total=sum(p.stat().st_size for p in paths))

        def hashed(path: Path) -> LocalFile:
            local = _hash(path, folder)
            progress.advance(hashing, local.size)
            return local

        with ThreadPoolExecutor(max_workers=workers) as pool:
            files = list(pool.map(hashed, paths))
        uploader = _Uploader(api, objects, progress, workers, summary, files)
        uploader.run(_State(folder, str(api.base_url), project), create)
    return summary


def _print_summary(console: Console, summary: Summary) -> None:
    table = Table(title="Upload summary", show_header=True)
    table.add_column("outcome")
    table.add_column("files", justify="right")
    table.add_row("uploaded", str(len(summary.uploaded)))
    table.add_row("duplicates (already on the platform)", str(len(summary.duplicates)))
    table.add_row("rejected", str(len(summary.rejected)))
    if summary.pending:
        table.add_row("not uploaded yet", str(len(summary.pending)))
    if summary.skipped:
        table.add_row("skipped (not images or videos)", str(len(summary.skipped)))
    console.print(table)
    problems = [*summary.rejected, *summary.pending]
    if problems:
        reasons = Table(title="Files not ingested", show_header=True)
        reasons.add_column("file", overflow="fold")
        reasons.add_column("reason", overflow="fold")
        for name, reason in problems:
            reasons.add_row(name, reason)
        console.print(reasons)
    if summary.upload_id:
        console.print(f"Upload {summary.upload_id}")
    if summary.pending:
        console.print("Run the same command again to upload the rest.")


def upload(
    folder: Annotated[
        Path,
        typer.Argument(exists=True, file_okay=False, help="The SD card or folder to upload."),
    ],
    project: Annotated[str, typer.Option("--project", help="Project id.")],
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = "",
    deployment: Annotated[
        str | None, typer.Option("--deployment", help="Deployment id of every file.")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="Camera id, for gateway tokens.")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=64, help="Files hashed and sent at once.")
    ] = 4,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Then wait until the catalogue has recorded every file, and list each "
            "medium with its deployment and capture time.",
        ),
    ] = False,
) -> None:
    """Upload an SD card: only files the platform does not have; run again to resume.

    Exit status: 0 when every file is on the platform (and, with --wait, recorded), 1 when
    some were rejected, are not uploaded yet or were not recorded, 2 when the platform refused
    the upload or could not be reached.
    """
    out = Console()
    errors = Console(stderr=True)
    headers = bearer_headers(token)
    timeout = httpx.Timeout(60.0, read=600.0)  # completing a page verifies every file in it
    with (
        httpx.Client(base_url=url, headers=headers, timeout=timeout) as api,
        httpx.Client(timeout=timeout) as objects,
    ):
        try:
            summary = upload_folder(
                folder.resolve(),
                api=api,
                objects=objects,
                project=project,
                deployment=deployment,
                device=device,
                workers=workers,
            )
        except (UploadFailed, httpx.HTTPError) as exc:
            errors.print(
                f"upload failed: {failure_message(exc, url)}",
                style="red",
                markup=False,
                soft_wrap=True,
            )
            raise typer.Exit(2) from exc
        _print_summary(out, summary)
        if wait and summary.media:
            try:
                with errors.status("Waiting for the catalogue to record the files"):
                    recorded = wait_until_recorded(api, summary.media, workers=workers)
            except (WaitFailed, httpx.HTTPError) as exc:
                errors.print(failure_message(exc, url), style="red", markup=False, soft_wrap=True)
                raise typer.Exit(1) from exc
            print_recorded(out, recorded)
    if summary.rejected or summary.pending:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Entry point of ``wildlens.commands``: adds ``wildlens upload``."""
    app.command("upload")(upload)
