"""``wildlens train``: start a training job on a project's confirmed labels and follow it
with a progress bar until it ends; ``wildlens train status JOB`` follows one already started,
``wildlens train cancel JOB`` stops one.

Leaving the command (Ctrl-C) leaves the job running on the platform; it says how to follow
it again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from wildlens.common.cli.remote import DEFAULT_URL, TokenOption, UrlOption
from wildlens.training.remote import CommandFailed, check, client, console

__all__ = ["train"]

train = typer.Typer(
    name="train",
    help="Train a classifier on a project's confirmed labels and follow the job.",
    invoke_without_command=True,
)
FINISHED = ("succeeded", "failed", "cancelled")
# How often the job is read while it is followed.
POLL_S = 1.0


def _label_spec(path: Path) -> dict[str, Any]:
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"{path}: {exc}", param_hint="--spec") from None
    if not isinstance(spec, dict):
        raise typer.BadParameter(f"{path}: a label spec is a JSON object", param_hint="--spec")
    return spec


def _base_weights(file: str | None, key: str | None) -> dict[str, str]:
    if file and key:
        raise typer.BadParameter("give --weights-file or --weights-key, not both")
    if file:
        return {"kind": "file", "path": file}
    if key:
        return {"kind": "object", "key": key}
    return {"kind": "none"}


def _summary(job: dict[str, Any]) -> str:
    parts = [job["status"]]
    if job.get("loss") is not None:
        parts.append(f"loss {job['loss']:.4f}")
    for name in ("macro_f1", "top1"):
        value = (job.get("metrics") or {}).get(name)
        if isinstance(value, int | float):
            parts.append(f"{name} {value:.3f}")
    if job.get("eta_s") is not None and job["status"] == "running":
        parts.append(f"about {round(job['eta_s'])} s left")
    return ", ".join(parts)


def _new_lines(before: list[str], after: list[str]) -> list[str]:
    """The lines of ``after`` not yet shown: what follows the longest end of ``before`` that
    ``after`` starts with (the tail is bounded, so old lines drop off its front)."""
    for start in range(len(before)):
        overlap = before[start:]
        if after[: len(overlap)] == overlap:
            return after[len(overlap) :]
    return after


def _follow(api: httpx.Client, job_id: str) -> dict[str, Any]:
    """Show the job's progress until it ends; the job as it ended."""
    job: dict[str, Any] = check(api.get(f"/v1/training-jobs/{job_id}"), 200)
    shown: list[str] = []
    with Progress(
        TextColumn("epoch"),
        MofNCompleteColumn(),
        BarColumn(),
        TextColumn("{task.description}"),
        console=console,
    ) as progress:
        task = progress.add_task(_summary(job), total=max(job["epochs"], 1))
        while True:
            for line in _new_lines(shown, job["log_tail"]):
                progress.console.print(line)
            shown = list(job["log_tail"])
            progress.update(task, completed=job["epoch"], description=_summary(job))
            if job["status"] in FINISHED:
                return job
            time.sleep(POLL_S)
            job = check(api.get(f"/v1/training-jobs/{job_id}"), 200)


def _outcome(job: dict[str, Any]) -> None:
    """Say how the job ended; exit 1 unless it succeeded."""
    if job["status"] == "succeeded":
        console.print(
            f"Succeeded: candidate model {job['model_id']} (promote it once its "
            "evaluation convinces you: wildlens models promote ID)"
        )
        typer.echo(job["model_id"])
        return
    if job["status"] == "failed":
        problem = job.get("problem") or {}
        console.print(
            f"Failed: {problem.get('error', '')}: {problem.get('detail', 'no reason given')}",
            style="red",
        )
    else:
        console.print("Cancelled.", style="yellow")
    raise typer.Exit(1)


def _followed(url: str, token: str, job_id: str) -> None:
    with client(url, token) as api:
        try:
            job = _follow(api, job_id)
        except KeyboardInterrupt:
            console.print(
                f"Stopped following; the job goes on. Follow it again: wildlens train status "
                f"{job_id} (or stop it: wildlens train cancel {job_id})"
            )
            raise typer.Exit(130) from None
        except (CommandFailed, httpx.HTTPError) as exc:
            console.print(str(exc), style="red")
            raise typer.Exit(1) from exc
    _outcome(job)


@train.callback()
def start(
    ctx: typer.Context,
    project: Annotated[
        str | None, typer.Option("--project", help="The project whose labels it trains on.")
    ] = None,
    spec: Annotated[
        Path | None,
        typer.Option("--spec", exists=True, dir_okay=False, help="The label spec, a JSON file."),
    ] = None,
    kind: Annotated[
        str,
        typer.Option(
            help="classifier (names the animal in a crop), detector (boxes the animals of "
            "whole frames) or combined (single objects: pixels and features together)."
        ),
    ] = "classifier",
    architecture: Annotated[
        str | None,
        typer.Option(
            help="A classifier: mobilenet_v3_small, mobilenet_v3_large, efficientnet_b0, "
            "resnet18, resnet50 or convnext_tiny; a detector: fcos_mobilenet_v3_small, "
            "fcos_mobilenet_v3_large or fcos_resnet18."
        ),
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs at most.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size")] = None,
    learning_rate: Annotated[float | None, typer.Option("--learning-rate")] = None,
    image_size: Annotated[int | None, typer.Option("--image-size", help="Pixels, square.")] = None,
    patience: Annotated[
        int | None,
        typer.Option(
            help="Epochs without a better validation macro-F1 (a detector: mAP@0.5) before "
            "it stops."
        ),
    ] = None,
    balance: Annotated[str | None, typer.Option(help="sampler, loss or none.")] = None,
    weights_file: Annotated[
        str | None,
        typer.Option(
            "--weights-file", help="Base weights: a file in the platform's weights folder."
        ),
    ] = None,
    weights_key: Annotated[
        str | None,
        typer.Option("--weights-key", help="Base weights: an object key under weights/."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Makes the split and the run repeatable.")] = 0,
    follow: Annotated[
        bool, typer.Option("--follow/--no-follow", help="Follow it until it ends.")
    ] = True,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = "",
) -> None:
    """Start a training job and follow it with a progress bar until it ends."""
    if ctx.invoked_subcommand is not None:
        return
    if project is None or spec is None or architecture is None:
        raise typer.BadParameter(
            "give --project, --spec and --architecture (or a command: status, cancel)"
        )
    hyperparameters = {
        name: value
        for name, value in (
            ("epochs", epochs),
            ("batch_size", batch_size),
            ("learning_rate", learning_rate),
            ("image_size", image_size),
            ("patience", patience),
            ("balance", balance),
        )
        if value is not None
    }
    body = {
        "project_id": project,
        "label_spec": _label_spec(spec),
        "kind": kind,
        "architecture": architecture,
        "hyperparameters": hyperparameters,
        "base_weights": _base_weights(weights_file, weights_key),
        "seed": seed,
    }
    with client(url, token) as api:
        try:
            job = check(api.post("/v1/training-jobs", json=body), 202)
        except (CommandFailed, httpx.HTTPError) as exc:
            console.print(str(exc), style="red")
            raise typer.Exit(1) from exc
    console.print(f"Training job {job['id']} queued ({job['architecture']}, seed {job['seed']})")
    if not follow:
        typer.echo(job["id"])
        return
    _followed(url, token, str(job["id"]))


@train.command("status")
def status(
    job_id: Annotated[str, typer.Argument(help="The training job's id.")],
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = "",
) -> None:
    """Follow a training job until it ends (at once, if it has)."""
    _followed(url, token, job_id)


@train.command("cancel")
def cancel(
    job_id: Annotated[str, typer.Argument(help="The training job's id.")],
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = "",
) -> None:
    """Stop a training job (a running one stops within seconds)."""
    with client(url, token) as api:
        try:
            job = check(api.post(f"/v1/training-jobs/{job_id}/cancel"), 202)
        except (CommandFailed, httpx.HTTPError) as exc:
            console.print(str(exc), style="red")
            raise typer.Exit(1) from exc
    console.print(f"Training job {job_id}: {_summary(job)}")
