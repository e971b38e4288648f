"""Training runs for tests: small implementations of the platform's ``TrainingRun`` seam,
installed on a running platform's training worker as the pipeline would be, and the helpers
to start a job and wait for its end over the API."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

from tests.support.api import Site, bearer, ok, post_media
from tests.support.model_bundles import renamed
from tests.support.platform import RunningPlatform, eventually, get_media
from wildlens.training.jobs.run import JobSpec, Progress, TrainedModel, TrainingRun
from wildlens.training.jobs.worker import TrainingJobWorker
from wildlens.training.runtime import TrainingRuntime

__all__ = [
    "SPEC",
    "EpochsUntilStopped",
    "ExportsABundle",
    "ended_job",
    "install_run",
    "job_request",
    "label_one",
    "png",
]

# One class, the grey heron: what :func:`label_one` gives a project.
SPEC = {"classes": {"grey heron": {"taxa": [{"name": "Ardea cinerea"}]}}}
_BOX = [0.3, 0.25, 0.3, 0.4]
FINISHED = {"succeeded", "failed", "cancelled"}


def install_run(wl: RunningPlatform, run: TrainingRun) -> TrainingJobWorker:
    """Put ``run`` in place of the installed pipeline on the platform's training worker."""
    runtime = wl.platform.contexts["training"].runtime
    assert isinstance(runtime, TrainingRuntime)
    assert runtime.jobs is not None, "this platform runs no training worker"
    runtime.jobs.run = run
    # A cancel is noticed within a tenth of a second, not two.
    runtime.jobs.cancel_poll_s = 0.1
    return runtime.jobs


def job_request(project: str, **changes: Any) -> dict[str, Any]:
    return {
        "project_id": project,
        "label_spec": SPEC,
        "architecture": "mobilenet_v3_small",
        "hyperparameters": {"epochs": 3, "batch_size": 8, "image_size": 64},
        "seed": 7,
        **changes,
    }


async def ended_job(
    client: httpx.AsyncClient, token: str, job_id: str, *, timeout: float = 30
) -> dict[str, Any]:
    """The job once it has ended (succeeded, failed or cancelled), waiting up to ``timeout``
    seconds (a real model trains for minutes)."""

    async def probe() -> dict[str, Any] | None:
        response = await client.get(f"/v1/training-jobs/{job_id}", headers=bearer(token))
        job = dict(await ok(response, 200))
        return job if job["status"] in FINISHED else None

    return dict(await eventually(probe, timeout=timeout, interval=0.5))


async def label_one(client: httpx.AsyncClient, admin: str, site: Site) -> str:
    """One image in ``site``'s project with a grey heron boxed and named by a person: labels
    enough for the job API to accept a job on :data:`SPEC`. Answers the observation's id."""
    image = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 80)).save(image, format="JPEG")
    accepted = await ok(
        await post_media(
            client,
            site.device_token,
            data=image.getvalue(),
            fields={"deployment_id": site.deployment_id},
        ),
        202,
    )

    async def recorded() -> dict[str, Any] | None:
        return await get_media(client, admin, accepted["media_id"])

    await eventually(recorded)
    labelled = await ok(
        await client.post(
            f"/v1/projects/{site.project_id}/media/{accepted['media_id']}/observations",
            json={"observation_type": "animal", "scientific_name": "Ardea cinerea", "bbox": _BOX},
            headers=bearer(admin),
        ),
        201,
    )
    return str(labelled["id"])


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), colour).save(out, format="PNG")
    return out.getvalue()


class EpochsUntilStopped:
    """Reports an epoch every few hundredths of a second until its job is cancelled."""

    def __init__(self) -> None:
        self.started: list[uuid.UUID] = []

    async def run(self, job: JobSpec, progress: Progress) -> TrainedModel:
        self.started.append(job.id)
        epoch = 0
        while True:
            epoch += 1
            await progress.epoch(
                epoch, loss=1.0 / epoch, metrics={"macro_f1": 0.5, "top1": 0.6}, eta_s=120.0
            )
            await progress.log(f"epoch {epoch}: loss {1.0 / epoch:.3f}")
            await asyncio.sleep(0.03)


class ExportsABundle:
    """Exports a bundle (``bundle``'s model under a version of the job's own), with its
    evaluation report and two plots, or without a report."""

    def __init__(self, bundle: Path, *, evaluated: bool = True) -> None:
        self.bundle = bundle
        self.evaluated = evaluated
        self.dataset_id = uuid.uuid4()
        # Every job it was given, as it was given.
        self.given: list[JobSpec] = []

    async def run(self, job: JobSpec, progress: Progress) -> TrainedModel:
        self.given.append(job)
        await progress.epoch(1, loss=0.4, metrics={"macro_f1": 0.91}, eta_s=0.0)
        await progress.log("exported")
        folder = renamed(
            self.bundle, job.workdir / "bundle", version=f"job-{job.id.hex[:12]}", name="trained"
        )
        report = {"top1": 0.93, "macro_f1": 0.91, "per_class": {"Ardea cinerea": {"f1": 0.91}}}
        return TrainedModel(
            bundle_dir=folder,
            dataset_id=self.dataset_id,
            report=report if self.evaluated else None,
            plots={"confusion_matrix": png("red"), "reliability": png("blue")},
            metrics={"top1": 0.93, "macro_f1": 0.91},
        )
