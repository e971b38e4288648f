"""``wildlens train`` against a running platform: it starts a job, follows it to its end and
says how it ended (here one labelled image at one place leaves nothing to test a model on, so
the job fails saying so); a malformed request, or one whose labels make no dataset, is refused
with what is wrong before any job exists; ``train status`` follows a job already started."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.api import create_site
from tests.support.training_runs import SPEC, label_one
from tests.training.conftest import Served

WILDLENS = str(Path(sys.executable).with_name("wildlens"))


def _wildlens(served: Served, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WILDLENS_")}
    return subprocess.run(
        [WILDLENS, *args, "--url", served.url],
        capture_output=True,
        text=True,
        env={**env, "WILDLENS_TOKEN": served.token},
        timeout=120,
    )


def _jobs(served: Served, project: str) -> list[dict[str, object]]:
    response = httpx.get(
        f"{served.url}/v1/training-jobs",
        params={"project_id": project},
        headers={"Authorization": f"Bearer {served.token}"},
    )
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def _labelled_project(served: Served) -> str:
    """A project with a camera whose image of a grey heron a person labelled."""
    async with httpx.AsyncClient(base_url=served.url) as client:
        site = await create_site(client, served.token)
        await label_one(client, served.token, site)
        return site.project_id


def test_train_starts_a_job_and_follows_it_to_its_end(served: Served, tmp_path: Path) -> None:
    created = httpx.post(
        f"{served.url}/v1/projects",
        json={"name": "Herons"},
        headers={"Authorization": f"Bearer {served.token}"},
    )
    assert created.status_code == 201, created.text
    project = str(created.json()["id"])
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(SPEC), encoding="utf-8")

    # Refused before anything starts, saying what is wrong.
    bad = _wildlens(
        served, "train", "--project", project, "--spec", str(spec), "--architecture", "vgg16"
    )
    assert bad.returncode == 1, bad.stderr
    assert "422" in bad.stderr
    assert "architecture" in bad.stderr
    assert _jobs(served, project) == []

    # No confirmed labels yet: refused, saying the dataset would be empty.
    empty = _wildlens(
        served, "train", "--project", project, "--spec", str(spec), "--architecture", "resnet18"
    )
    assert empty.returncode == 1, empty.stderr
    assert "422" in empty.stderr
    assert "empty" in empty.stderr
    assert _jobs(served, project) == []

    project = asyncio.run(_labelled_project(served))
    ran = _wildlens(
        served,
        "train",
        "--project",
        project,
        "--spec",
        str(spec),
        "--architecture",
        "resnet18",
        "--epochs",
        "2",
    )
    assert ran.returncode == 1, ran.stderr
    assert "queued (resnet18, seed 0)" in ran.stderr
    assert "Failed: Invalid: dataset" in ran.stderr
    assert "has no test split" in ran.stderr
    (job,) = _jobs(served, project)
    assert job["status"] == "failed"
    assert job["hyperparameters"]["epochs"] == 2  # type: ignore[index]

    # Following it again tells the same.
    again = _wildlens(served, "train", "status", str(job["id"]))
    assert again.returncode == 1, again.stderr
    assert "has no test split" in again.stderr
    # An ended job is not cancelled.
    cancel = _wildlens(served, "train", "cancel", str(job["id"]))
    assert cancel.returncode == 1
    assert "has failed already" in cancel.stderr
