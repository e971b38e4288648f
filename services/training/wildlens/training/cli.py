"""``wildlens models list|add|promote``: the model registry from a laptop or a script
(``wildlens train``, training jobs, is in ``train_cli``).

``models add PATH`` turns what people download into a bundle and registers it: an ONNX file
described by flags, or a YOLOv5 (MegaDetector v5) or Ultralytics (MegaDetector v6, YOLOv8/9/11)
checkpoint, exported to ONNX here (that needs the ``converters`` extra). The bundle goes up
through PUT URLs straight to object storage, whatever its size, and the platform checks and
registers it as a job, which the command waits for. ``--serve`` promotes it at once, so the
running platform detects with it.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE, BundleError, DecoderName
from wildlens.common.cli.remote import DEFAULT_URL, TokenOption, UrlOption
from wildlens.training.remote import TIMEOUT as _TIMEOUT
from wildlens.training.remote import CommandFailed, console
from wildlens.training.remote import check as _check
from wildlens.training.remote import client as _client
from wildlens.training.train_cli import train

__all__ = ["register"]

models = typer.Typer(
    name="models",
    help="The model registry: list, add (ONNX files, YOLOv5 and Ultralytics checkpoints), promote.",
    no_args_is_help=True,
)
_CHUNK = 1 << 20
# How long the platform may take to check and register an uploaded bundle (it loads the model).
_JOB_WAIT_S = 1800.0


def _labels(value: str | None) -> list[str] | None:
    """``animal,person,vehicle``, or a text file with one label a line."""
    if not value:
        return None
    path = Path(value)
    text = path.read_text(encoding="utf-8") if path.is_file() else value.replace(",", "\n")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _size(value: str | None) -> tuple[int, int] | None:
    """``1280`` or ``640x480`` (width x height)."""
    if not value:
        return None
    try:
        parts = [int(p) for p in value.lower().split("x")]
    except ValueError:
        raise typer.BadParameter(f"{value!r}: give 1280 or 640x480") from None
    if len(parts) not in (1, 2) or min(parts) <= 0:
        raise typer.BadParameter(f"{value!r}: give 1280 or 640x480")
    return (parts[0], parts[-1])


def _find(client: httpx.Client, model: str) -> dict[str, Any]:
    """A model by id, or by ``NAME:VERSION``."""
    if ":" not in model:
        found: dict[str, Any] = _check(client.get(f"/v1/models/{model}"), 200)
        return found
    name, version = model.split(":", 1)
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = _check(client.get("/v1/models", params=params), 200)
        for item in page["items"]:
            if (item["name"], item["version"]) == (name, version):
                return dict(item)
        cursor = page.get("next_cursor")
        if not cursor:
            raise CommandFailed(f"no model {name} {version} that you can see")


def _promote(client: httpx.Client, model_id: str) -> dict[str, Any]:
    promoted: dict[str, Any] = _check(client.post(f"/v1/models/{model_id}/promote"), 200)
    return promoted


def _chunks(path: Path, progress: Progress, task: Any) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            progress.advance(task, len(chunk))
            yield chunk


def _put(url: str, path: Path, progress: Progress) -> None:
    """PUT one file to the URL the platform handed out, showing how far it has gone."""
    size = path.stat().st_size
    task = progress.add_task(path.name, total=size)
    # The URL is the credential: no bearer token goes with it (S3 would refuse one).
    response = httpx.put(
        url,
        content=_chunks(path, progress, task),
        # Given, so that the file goes as one body rather than in chunks S3 does not take.
        headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
        timeout=_TIMEOUT,
    )
    if response.status_code not in (200, 201, 204):
        raise CommandFailed(
            f"uploading {path.name} failed: {response.status_code} {response.text[:300]}"
        )


def _problem(upload: dict[str, Any]) -> str:
    problem = upload.get("problem") or {}
    lines = [
        f"the platform refused the bundle: {problem.get('error', '')}: "
        f"{problem.get('detail', 'no reason given')}"
    ]
    for field in problem.get("fields") or []:
        lines.append(f"  {'.'.join(str(p) for p in field['location'])}: {field['message']}")
    return "\n".join(lines)


def _register(client: httpx.Client, folder: Path, project: str | None) -> dict[str, Any]:
    """Upload the bundle through PUT URLs and wait for the platform to register it."""
    paths = {MODEL_FILE: folder / MODEL_FILE, MANIFEST_FILE: folder / MANIFEST_FILE}
    manifest = json.loads(paths[MANIFEST_FILE].read_text(encoding="utf-8"))
    body: dict[str, Any] = {
        "name": manifest["name"],
        "version": manifest["version"],
        "kind": manifest["kind"],
        "files": [{"name": name, "size": path.stat().st_size} for name, path in paths.items()],
    }
    if project:
        body["project_id"] = project
    opened = _check(client.post("/v1/models/uploads", json=body), 201)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        for file in opened["files"]:
            _put(file["upload_url"], paths[file["name"]], progress)
    console.print("Uploaded; the platform checks the bundle (it loads the model)...")
    upload = _check(client.post(f"/v1/models/uploads/{opened['id']}/complete"), 202)
    deadline = time.monotonic() + _JOB_WAIT_S
    while upload["status"] not in ("succeeded", "failed"):
        if time.monotonic() > deadline:
            raise CommandFailed(
                f"the platform has not finished checking the bundle; follow it with "
                f"GET /v1/models/uploads/{opened['id']}"
            )
        time.sleep(0.5)
        upload = _check(client.get(f"/v1/models/uploads/{opened['id']}"), 200)
    if upload["status"] == "failed":
        raise CommandFailed(_problem(upload))
    registered: dict[str, Any] = _check(client.get(f"/v1/models/{upload['model_id']}"), 200)
    return registered


@models.command("list")
def list_models(
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = "",
    stage: Annotated[
        str | None, typer.Option(help="Only this stage: registered, production, archived...")
    ] = None,
    kind: Annotated[str | None, typer.Option(help="Only detectors or classifiers.")] = None,
) -> None:
    """The registered models you can see, and which serve."""
    table = Table(show_header=True)
    for column in ("id", "name", "version", "kind", "stage", "scope", "source", "sha256"):
        table.add_column(column, overflow="fold")
    params: dict[str, Any] = {"limit": 1000}
    if stage:
        params["stage"] = stage
    if kind:
        params["kind"] = kind
    with _client(url, token) as client:
        try:
            cursor: str | None = None
            while True:
                page = _check(
                    client.get(
                        "/v1/models", params={**params, **({"cursor": cursor} if cursor else {})}
                    ),
                    200,
                )
                for item in page["items"]:
                    table.add_row(
                        item["id"],
                        item["name"],
                        item["version"],
                        item["kind"],
                        item["stage"],
                        item["project_id"] or "global",
                        item["source"],
                        item["sha256"][:12],
                    )
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        except (CommandFailed, httpx.HTTPError) as exc:
            console.print(str(exc), style="red")
            raise typer.Exit(1) from exc
    Console(width=200).print(table)


@models.command("add")
def add(
    path: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="A .onnx file, or a YOLOv5 / Ultralytics .pt checkpoint (MegaDetector v5, v6).",
        ),
    ],
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = "",
    name: Annotated[str | None, typer.Option(help="Model name (default: the file's name).")] = None,
    version: Annotated[
        str | None, typer.Option(help="Version (default: the start of the file's SHA-256).")
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="detector (default) or classifier; for .onnx files.")
    ] = None,
    decoder: Annotated[
        str | None,
        typer.Option(
            help="How to read a detector's output: megadetector-v5, yolov8, end2end, generic "
            "(checkpoints: implied)."
        ),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(
            help="Labels by class index: a,b,c or a file with one a line (checkpoints: "
            "their own names)."
        ),
    ] = None,
    input_size: Annotated[
        str | None,
        typer.Option(
            "--input-size",
            help="Model input: 1280 or 640x480 (checkpoints: the size they were trained at).",
        ),
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", help="Register it as this project's own model.")
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Promote it at once: the platform detects with it.")
    ] = False,
    keep: Annotated[
        Path | None,
        typer.Option("--keep", help="Also keep the bundle in this folder (new, or empty)."),
    ] = None,
    quantize: Annotated[
        bool,
        typer.Option(
            "--quantize",
            help="Also register an int8 variant (version VERSION-int8) next to the fp32 model, "
            "measured against it on --labelled; --serve still serves the fp32 model.",
        ),
    ] = False,
    labelled: Annotated[
        Path | None,
        typer.Option(
            "--labelled",
            file_okay=False,
            help="A Camtrap DP package with boxes (and its images) to measure the int8 "
            "variant's accuracy on; required with --quantize.",
        ),
    ] = None,
) -> None:
    """Turn a downloaded model into a bundle (exporting checkpoints to ONNX) and register it.

    A .pt checkpoint is unpickled to be exported, which runs code from the file: add only
    checkpoints from publishers you trust.
    """
    if quantize and labelled is None:
        raise typer.BadParameter(
            "--quantize needs --labelled: a Camtrap DP package with boxes to measure the int8 "
            "variant against the fp32 model"
        )
    from wildlens.training.converters import (
        BundleOptions,
        ConverterMissing,
        ExportMismatch,
        NotACheckpoint,
        make_bundle,
    )

    if kind not in (None, "detector", "classifier"):
        raise typer.BadParameter("--kind is detector or classifier")
    if decoder not in (None, "megadetector-v5", "yolov8", "end2end", "generic"):
        raise typer.BadParameter("--decoder is megadetector-v5, yolov8, end2end or generic")
    options = BundleOptions(
        name=name,
        version=version,
        kind=_kind(kind),
        decoder=_decoder(decoder),
        labels=_labels(labels),
        input_size=_size(input_size),
    )
    with tempfile.TemporaryDirectory(prefix="wildlens-bundle-") as scratch:
        folder = Path(keep) if keep else Path(scratch) / "bundle"
        console.print(f"Reading {path.name}...")
        try:
            made = make_bundle(path, folder, options)
        except ConverterMissing as exc:
            console.print(str(exc), style="red")
            raise typer.Exit(3) from exc
        except (BundleError, NotACheckpoint, ExportMismatch, ValueError) as exc:
            console.print(f"cannot make a bundle of {path.name}: {exc}", style="red")
            raise typer.Exit(1) from exc
        source, manifest = made.source, made.bundle.manifest
        console.print(
            f"{source.path.name}: {source.size} bytes\n"
            f"  SHA-256 {source.sha256}\n  MD5     {source.md5}"
        )
        action = "used as it is" if made.origin == "onnx" else f"exported from {made.origin}"
        console.print(
            f"Bundle {manifest.name} {manifest.version}: {manifest.kind}, {action} in "
            f"{made.seconds:.1f} s; decoder {manifest.decoder or '-'}, input "
            f"{manifest.input.width}x{manifest.input.height}, labels "
            f"{', '.join(manifest.label_names)}\n  model.onnx SHA-256 {manifest.sha256}"
        )
        int8 = None
        if quantize:
            assert labelled is not None
            int8 = _quantized(made.bundle, Path(f"{folder}-int8"), labelled)
        with _client(url, token) as client:
            try:
                registered = _register(client, folder, project)
                console.print(f"Registered as {registered['id']} ({registered['stage']})")
                if int8 is not None:
                    variant = _register(client, int8, project)
                    console.print(
                        f"int8 variant registered as {variant['id']} ({variant['stage']}), "
                        f"not served: promote {variant['name']}:{variant['version']} if its "
                        "accuracy above is good enough"
                    )
                if serve:
                    promoted = _promote(client, registered["id"])
                    scope = f"project {project}" if project else "every project"
                    console.print(
                        f"Promoted: {promoted['name']} {promoted['version']} serves {scope}"
                    )
            except (CommandFailed, httpx.HTTPError) as exc:
                console.print(str(exc), style="red")
                raise typer.Exit(1) from exc
    typer.echo(registered["id"])


def _quantized(fp32: Any, folder: Path, labelled: Path) -> Path:
    """The int8 variant's bundle in ``folder``, its accuracy change shown; exits on failure."""
    from wildlens.training.converters.quantize import quantize_bundle

    console.print(f"Quantising to int8 and measuring both on {labelled.name}...")
    try:
        made = quantize_bundle(fp32, folder, labelled)
    except BundleError as exc:
        console.print(f"cannot quantise: {exc}", style="red")
        raise typer.Exit(1) from exc
    table = Table("model", "precision", "recall", "mean IoU", "ms/image", "model.onnx bytes")
    for name, accuracy, bundle in (
        ("fp32", made.fp32, fp32),
        ("int8", made.int8, made.bundle),
    ):
        table.add_row(
            name,
            f"{accuracy.precision:.3f}",
            f"{accuracy.recall:.3f}",
            f"{accuracy.mean_iou:.3f}",
            f"{accuracy.ms_per_image:.1f}",
            str(bundle.onnx_path.stat().st_size),
        )
    change = made.report()["change"]
    table.add_row(
        "change",
        f"{change['precision']:+.3f}",
        f"{change['recall']:+.3f}",
        f"{change['mean_iou']:+.3f}",
        f"{change['ms_per_image']:+.1f}",
        "",
    )
    # With the other messages on stderr: stdout keeps only the registered id, for scripts.
    Console(stderr=True, width=200).print(table)
    return folder


def _kind(value: str | None) -> Literal["detector", "classifier"] | None:
    if value == "classifier":
        return "classifier"
    return "detector" if value == "detector" else None


def _decoder(value: str | None) -> DecoderName | None:
    names: dict[str, DecoderName] = {
        "megadetector-v5": "megadetector-v5",
        "yolov8": "yolov8",
        "end2end": "end2end",
        "generic": "generic",
    }
    return names[value] if value else None


@models.command("promote")
def promote(
    model: Annotated[str, typer.Argument(help="The model's id, or NAME:VERSION.")],
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = "",
) -> None:
    """Make a registered model the one serving its kind (globally, or in its project)."""
    with _client(url, token) as client:
        try:
            found = _find(client, model)
            promoted = _promote(client, found["id"])
        except (CommandFailed, httpx.HTTPError) as exc:
            console.print(str(exc), style="red")
            raise typer.Exit(1) from exc
    scope = f"project {promoted['project_id']}" if promoted["project_id"] else "every project"
    console.print(f"{promoted['name']} {promoted['version']} serves {scope}")


def register(app: typer.Typer) -> None:
    """Entry point of ``wildlens.commands``: adds ``wildlens models`` and ``wildlens train``."""
    app.add_typer(models)
    app.add_typer(train)
