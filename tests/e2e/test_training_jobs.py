"""Training jobs through the API: a project's managers start, follow and cancel them; a
training worker runs each through the installed training run, writes its progress, and
registers what it made as a candidate, which is promoted only with its evaluation report and
rolled back to the model that served before.

The training run is the platform's seam for the pipeline (``TrainingRun``); the runs here
are small implementations of it (a run that reports epochs until it is stopped, a run that
exports a bundle), installed on the running worker as the pipeline would be.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.support.api import Site, bearer, ok
from tests.support.factories import ProjectRoles, Tokens
from tests.support.model_bundles import post_bundle, renamed
from tests.support.platform import RunningPlatform, eventually
from tests.support.training_runs import (
    SPEC,
    EpochsUntilStopped,
    ExportsABundle,
    ended_job,
    install_run,
    job_request,
    label_one,
)
from wildlens.common.bus import Subscription
from wildlens.common.db import utcnow
from wildlens.common.events import unpack
from wildlens.common.events.v1.training_pb2 import ModelTrained
from wildlens.training.jobs.run import JobSpec, Progress, TrainedModel
from wildlens.training.models import TrainingJob

_job = job_request

pytestmark = pytest.mark.services("catalogue", "ingest", "training")


@pytest.fixture
async def roles(wl: RunningPlatform, admin: str, site: Site, token_for: Tokens) -> ProjectRoles:
    """The site's project, with a grey heron a person labelled (what a job needs to be
    accepted), and tokens of its manager, its viewer and another project's manager."""
    await label_one(wl.client, admin, site)
    herons = site.project_id
    return ProjectRoles(
        herons,
        token_for("manager-h", {herons: "manager"}),
        token_for("viewer-h", {herons: "viewer"}),
        token_for("manager-o", {str(uuid.uuid4()): "manager"}),
    )


async def _start(wl: RunningPlatform, token: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await wl.client.post("/v1/training-jobs", json=body, headers=bearer(token))
    return dict(await ok(response, 202))


async def _get(wl: RunningPlatform, token: str, job_id: str) -> dict[str, Any]:
    response = await wl.client.get(f"/v1/training-jobs/{job_id}", headers=bearer(token))
    return dict(await ok(response, 200))


async def _ended(wl: RunningPlatform, token: str, job_id: str) -> dict[str, Any]:
    return await ended_job(wl.client, token, job_id)


async def test_managers_start_follow_list_and_cancel_training_jobs(
    wl: RunningPlatform, roles: ProjectRoles, token_for: Tokens
) -> None:
    herons, manager, viewer, stranger = roles
    annotator = token_for("annotator-h", {herons: "annotator"})
    run = EpochsUntilStopped()
    install_run(wl, run)

    job = await _start(wl, manager, _job(herons))
    assert job["status"] in {"queued", "running"}
    assert job["architecture"] == "mobilenet_v3_small"
    assert job["hyperparameters"] == {
        "epochs": 3,
        "batch_size": 8,
        "learning_rate": 0.001,
        "image_size": 64,
        "patience": 5,
        "balance": "sampler",
    }
    assert job["base_weights"] == {"kind": "none"}
    assert job["label_spec"] == SPEC
    assert job["created_by"] == "manager-h"

    # training.requested wakes a worker: the job runs, and its progress shows.
    async def progressed() -> dict[str, Any] | None:
        seen = await _get(wl, manager, job["id"])
        return seen if seen["status"] == "running" and seen["epoch"] >= 2 else None

    running = await eventually(progressed)
    assert running["metrics"] == {"macro_f1": 0.5, "top1": 0.6}
    assert running["loss"] == pytest.approx(1.0 / running["epoch"], rel=0.5)
    assert running["eta_s"] == 120.0
    assert running["log_tail"][0] == "epoch 1: loss 1.000"
    assert running["started_at"] is not None

    # A second job waits behind it (one job at a time per worker); cancelled, it never runs.
    waiting = await _start(wl, manager, _job(herons, seed=8))
    cancelled = await ok(
        await wl.client.post(f"/v1/training-jobs/{waiting['id']}/cancel", headers=bearer(manager)),
        202,
    )
    assert cancelled["status"] == "cancelled"

    listed = await ok(
        await wl.client.get(f"/v1/training-jobs?project_id={herons}", headers=bearer(manager)), 200
    )
    assert sorted(j["id"] for j in listed["items"]) == sorted([job["id"], waiting["id"]])
    only = await ok(
        await wl.client.get(
            f"/v1/training-jobs?project_id={herons}&status=cancelled", headers=bearer(manager)
        ),
        200,
    )
    assert [j["id"] for j in only["items"]] == [waiting["id"]]

    # Viewers and annotators may not; other projects' managers do not even see it.
    for token in (viewer, annotator):
        assert (
            await wl.client.get(f"/v1/training-jobs/{job['id']}", headers=bearer(token))
        ).status_code == 403
        assert (
            await wl.client.post("/v1/training-jobs", json=_job(herons), headers=bearer(token))
        ).status_code == 403
        listing = await wl.client.get(
            f"/v1/training-jobs?project_id={herons}", headers=bearer(token)
        )
        assert listing.status_code == 403
        stop = await wl.client.post(f"/v1/training-jobs/{job['id']}/cancel", headers=bearer(token))
        assert stop.status_code == 403
    assert (
        await wl.client.get(f"/v1/training-jobs/{job['id']}", headers=bearer(stranger))
    ).status_code == 404
    assert (
        await wl.client.post(f"/v1/training-jobs/{job['id']}/cancel", headers=bearer(stranger))
    ).status_code == 404
    assert (
        await wl.client.post("/v1/training-jobs", json=_job(herons), headers=bearer(stranger))
    ).status_code == 404
    assert (
        await wl.client.get(f"/v1/training-jobs?project_id={herons}", headers=bearer(stranger))
    ).status_code == 404

    # Cancelling the running job interrupts its run; it ends cancelled where it got to.
    asked = await ok(
        await wl.client.post(f"/v1/training-jobs/{job['id']}/cancel", headers=bearer(manager)), 202
    )
    assert asked["cancel_requested"] is True
    ended = await _ended(wl, manager, job["id"])
    assert ended["status"] == "cancelled"
    assert ended["finished_at"] is not None
    assert ended["epoch"] >= 2
    assert ended["log_tail"][-1] == "cancelled"
    assert run.started == [uuid.UUID(job["id"])]
    # Once ended, a cancel changes nothing; the waiting one never ran.
    again = await ok(
        await wl.client.post(f"/v1/training-jobs/{job['id']}/cancel", headers=bearer(manager)), 202
    )
    assert again["status"] == "cancelled"
    assert (await _get(wl, manager, waiting["id"]))["started_at"] is None


async def test_a_malformed_job_request_is_refused_before_any_work_starts(
    wl: RunningPlatform, roles: ProjectRoles, token_for: Tokens, tmp_path: Path
) -> None:
    herons, manager, _viewer, _stranger = roles

    async def refused(body: dict[str, Any]) -> list[list[Any]]:
        response = await wl.client.post("/v1/training-jobs", json=body, headers=bearer(manager))
        assert response.status_code == 422, response.text
        return [f["location"] for f in response.json().get("fields", [])]

    assert ["body", "architecture"] in await refused(_job(herons, architecture="vgg16"))
    assert ["body", "label_spec"] in await refused(_job(herons, label_spec=["Ardea cinerea"]))
    assert ["body", "label_spec"] in await refused(_job(herons, label_spec={}))
    too_many = {"epochs": 0, "batch_size": 8}
    assert ["body", "hyperparameters", "epochs"] in await refused(
        _job(herons, hyperparameters=too_many)
    )
    for name, value in (
        ("learning_rate", 0),
        ("image_size", 8),
        ("batch_size", 100_000),
        ("balance", "oversample"),
        ("patience", -1),
        ("momentum", 0.9),
    ):
        fields = await refused(_job(herons, hyperparameters={name: value}))
        assert ["body", "hyperparameters", name] in fields, fields
    assert await refused(_job(herons, seed=-1))
    assert await refused(_job(herons, base_weights={"kind": "url", "url": "https://x"}))
    assert await refused(_job(herons, base_weights={"kind": "object", "key": "media/aa/x.jpg"}))
    assert await refused(_job(herons, base_weights={"kind": "object", "key": "weights/../x"}))
    # Weights named where there are none: no such object, no local files allowed here.
    missing = await wl.client.post(
        "/v1/training-jobs",
        json=_job(herons, base_weights={"kind": "object", "key": "weights/imagenet.pth"}),
        headers=bearer(manager),
    )
    assert missing.status_code == 422, missing.text
    assert "no object weights/imagenet.pth" in missing.json()["detail"]
    local = await wl.client.post(
        "/v1/training-jobs",
        json=_job(herons, base_weights={"kind": "file", "path": str(tmp_path / "w.pth")}),
        headers=bearer(manager),
    )
    assert local.status_code == 422, local.text
    assert "not allowed on this platform" in local.json()["detail"]
    # Going on from a model needs one trained here, in reach, with its weights kept.
    unknown = await wl.client.post(
        "/v1/training-jobs",
        json=_job(herons, base_weights={"kind": "model", "model_id": str(uuid.uuid4())}),
        headers=bearer(manager),
    )
    assert unknown.status_code == 422, unknown.text
    assert "in this project or global" in unknown.json()["detail"]

    listed = await ok(
        await wl.client.get(f"/v1/training-jobs?project_id={herons}", headers=bearer(manager)), 200
    )
    assert listed["items"] == []


async def test_a_failing_run_fails_its_job_and_the_worker_goes_on(
    wl: RunningPlatform, roles: ProjectRoles, token_for: Tokens, tiny_detector: Path
) -> None:
    herons, manager, _viewer, _stranger = roles

    # The platform's own run: one labelled image, at one place, leaves nothing to test a
    # model on; each job fails saying so, and the worker goes on to the next.
    first = await _start(wl, manager, _job(herons))
    second = await _start(wl, manager, _job(herons, seed=9))
    for job in (first, second):
        ended = await _ended(wl, manager, job["id"])
        assert ended["status"] == "failed", ended
        assert ended["problem"]["error"] == "Invalid"
        assert "has no test split" in ended["problem"]["detail"]
        assert ended["log_tail"][-1].startswith("failed: dataset ")
        assert ended["model_id"] is None

    # A run that raises something of its own: the same, and the worker still takes the next.
    class Raises:
        async def run(self, job: JobSpec, progress: Progress) -> TrainedModel:
            await progress.log("loading the dataset")
            raise RuntimeError("CUDA out of memory")

    install_run(wl, Raises())
    broken = await _ended(wl, manager, (await _start(wl, manager, _job(herons)))["id"])
    assert broken["status"] == "failed"
    assert broken["problem"]["error"] == "TrainingFailed"
    assert broken["problem"]["detail"] == "RuntimeError: CUDA out of memory"
    assert broken["log_tail"] == ["loading the dataset", "failed: RuntimeError: CUDA out of memory"]

    install_run(wl, ExportsABundle(tiny_detector))
    done = await _ended(wl, manager, (await _start(wl, manager, _job(herons)))["id"])
    assert done["status"] == "succeeded", done
    assert done["model_id"] is not None


async def test_a_trained_candidate_is_evaluated_promoted_and_rolled_back(
    wl: RunningPlatform, roles: ProjectRoles, token_for: Tokens, tiny_detector: Path, tmp_path: Path
) -> None:
    herons, manager, viewer, stranger = roles
    run = ExportsABundle(tiny_detector)
    install_run(wl, run)
    trained: list[ModelTrained] = []

    async def hear(envelopes: list[Any]) -> None:
        trained.extend(unpack(e, ModelTrained) for e in envelopes)

    wl.platform.bus.subscribe(
        Subscription(group="observer", event_type="model.trained", handler=hear)
    )
    await wl.platform.bus.declared()

    # What served the project before: a bundle its manager brought, marked external.
    brought_dir = renamed(tiny_detector, tmp_path / "brought", version="1.0.0", name="brought")
    brought = await ok(await post_bundle(wl.client, manager, brought_dir, project_id=herons), 201)
    assert brought["source"] == "external"
    assert "external" in brought["history"][0]["reason"]
    await ok(
        await wl.client.post(f"/v1/models/{brought['id']}/promote", headers=bearer(manager)), 200
    )

    job = await _ended(wl, manager, (await _start(wl, manager, _job(herons)))["id"])
    assert job["status"] == "succeeded", job
    model = await ok(
        await wl.client.get(f"/v1/models/{job['model_id']}", headers=bearer(manager)), 200
    )
    assert model["stage"] == "candidate"
    assert model["source"] == "trained"
    assert model["project_id"] == herons
    assert model["job_id"] == job["id"]
    assert model["dataset_id"] == str(run.dataset_id)
    assert model["metrics"] == {"top1": 0.93, "macro_f1": 0.91}
    assert [(c["to_stage"], c["changed_by"]) for c in model["history"]] == [
        ("candidate", "manager-h")
    ]
    assert job["id"] in model["history"][0]["reason"]

    # model.trained went out with the registration.
    async def heard_any() -> list[ModelTrained]:
        return trained

    heard = await eventually(heard_any)
    assert [(e.model_id, e.job_id, e.project_id, e.dataset_id) for e in heard] == [
        (model["id"], job["id"], herons, str(run.dataset_id))
    ]
    assert dict(heard[0].metrics) == pytest.approx({"top1": 0.93, "macro_f1": 0.91})
    assert heard[0].bundle_key == model["bundle_key"]

    # The evaluation: its report and plots, to whoever sees the model.
    report = await ok(
        await wl.client.get(f"/v1/models/{model['id']}/evaluation", headers=bearer(viewer)), 200
    )
    assert report["top1"] == 0.93
    plot = await wl.client.get(
        f"/v1/models/{model['id']}/evaluation/confusion_matrix.png", headers=bearer(viewer)
    )
    assert plot.status_code == 200
    assert plot.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(plot.content)).getpixel((0, 0)) == (255, 0, 0)
    for missing in ("calibration", "..%2Fmodel", "Confusion"):
        response = await wl.client.get(
            f"/v1/models/{model['id']}/evaluation/{missing}.png", headers=bearer(viewer)
        )
        assert response.status_code == 404, (missing, response.text)
    for route in ("evaluation", "evaluation/confusion_matrix.png"):
        response = await wl.client.get(
            f"/v1/models/{model['id']}/{route}", headers=bearer(stranger)
        )
        assert response.status_code == 404
    no_report = await wl.client.get(
        f"/v1/models/{brought['id']}/evaluation", headers=bearer(manager)
    )
    assert no_report.status_code == 404
    assert "no evaluation report" in no_report.json()["detail"]

    # Promoted by its project's manager (not its viewer): it serves, the bundle is archived.
    assert (
        await wl.client.post(f"/v1/models/{model['id']}/promote", headers=bearer(viewer))
    ).status_code == 403
    promoted = await ok(
        await wl.client.post(f"/v1/models/{model['id']}/promote", headers=bearer(manager)), 200
    )
    assert promoted["stage"] == "production"
    before = await ok(
        await wl.client.get(f"/v1/models/{brought['id']}", headers=bearer(manager)), 200
    )
    assert before["stage"] == "archived"

    # Rolled back, naming its scope: what served before serves again; histories keep both.
    wrong_scope = await wl.client.post(
        f"/v1/models/{model['id']}/rollback", json={"scope": "global"}, headers=bearer(manager)
    )
    assert wrong_scope.status_code == 409, wrong_scope.text
    assert "project model" in wrong_scope.json()["detail"]
    assert (
        await wl.client.post(
            f"/v1/models/{model['id']}/rollback", json={"scope": "project"}, headers=bearer(viewer)
        )
    ).status_code == 403
    assert (
        await wl.client.post(f"/v1/models/{model['id']}/rollback", json={}, headers=bearer(manager))
    ).status_code == 422
    restored = await ok(
        await wl.client.post(
            f"/v1/models/{model['id']}/rollback", json={"scope": "project"}, headers=bearer(manager)
        ),
        200,
    )
    assert restored["id"] == brought["id"]
    assert restored["stage"] == "production"
    assert [(c["from_stage"], c["to_stage"]) for c in restored["history"]] == [
        (None, "registered"),
        ("registered", "production"),
        ("production", "archived"),
        ("archived", "production"),
    ]
    rolled = await ok(
        await wl.client.get(f"/v1/models/{model['id']}", headers=bearer(manager)), 200
    )
    assert rolled["stage"] == "archived"
    assert rolled["history"][-1]["reason"] == "rolled back to brought 1.0.0"
    # Rolling back what is not in production is refused.
    again = await wl.client.post(
        f"/v1/models/{model['id']}/rollback", json={"scope": "project"}, headers=bearer(manager)
    )
    assert again.status_code == 409
    assert "not in production" in again.json()["detail"]


async def test_a_trained_model_without_an_evaluation_report_is_not_promoted(
    wl: RunningPlatform, roles: ProjectRoles, token_for: Tokens, tiny_detector: Path
) -> None:
    herons, manager, _viewer, _stranger = roles
    install_run(wl, ExportsABundle(tiny_detector, evaluated=False))

    job = await _ended(wl, manager, (await _start(wl, manager, _job(herons)))["id"])
    assert job["status"] == "succeeded", job
    refused = await wl.client.post(f"/v1/models/{job['model_id']}/promote", headers=bearer(manager))
    assert refused.status_code == 409, refused.text
    assert "has no evaluation report" in refused.json()["detail"]
    model = await ok(
        await wl.client.get(f"/v1/models/{job['model_id']}", headers=bearer(manager)), 200
    )
    assert model["stage"] == "candidate"
    assert model["evaluation_key"] is None
    missing = await wl.client.get(
        f"/v1/models/{job['model_id']}/evaluation", headers=bearer(manager)
    )
    assert missing.status_code == 404
    plot = await wl.client.get(
        f"/v1/models/{job['model_id']}/evaluation/confusion_matrix.png", headers=bearer(manager)
    )
    assert plot.status_code == 404
    # Nothing of an evaluation was stored beside the bundle.
    keys = sorted(i.key for i in await wl.platform.store.list(f"{model['bundle_key']}/"))
    assert keys == [
        f"{model['bundle_key']}/model.onnx",
        f"{model['bundle_key']}/wildlens-model.json",
    ]
    assert json.loads(json.dumps(model["metrics"])) == {"top1": 0.93, "macro_f1": 0.91}


async def _as_left_by_a_dead_worker(wl: RunningPlatform, project: str, attempts: int) -> str:
    """A job as a training worker that was killed mid-run leaves it: running, held by a
    process that renews its lease no more, with its progress and log so far."""
    job = TrainingJob(
        project_id=uuid.UUID(project),
        created_by="manager-h",
        label_spec=SPEC,
        architecture="resnet18",
        hyperparameters={"epochs": 5},
        base_weights={"kind": "none"},
        seed=3,
        status="running",
        epochs=5,
        epoch=2,
        log_tail=["epoch 2: loss 0.700"],
        attempts=attempts,
        lease_owner="training-worker-0-killed",
        lease_expires_at=utcnow() - timedelta(seconds=1),
    )
    ctx = wl.platform.contexts["training"]
    async with ctx.database.transaction() as session:
        session.add(job)
    return str(job.id)


async def test_a_job_whose_worker_died_is_taken_over_and_given_up_after_three_tries(
    wl: RunningPlatform, roles: ProjectRoles, token_for: Tokens, tiny_detector: Path
) -> None:
    herons, manager, _viewer, _stranger = roles
    run = ExportsABundle(tiny_detector)
    worker = install_run(wl, run)

    orphan = await _as_left_by_a_dead_worker(wl, herons, attempts=1)
    worker.wake()
    resumed = await _ended(wl, manager, orphan)
    assert resumed["status"] == "succeeded", resumed
    assert resumed["attempts"] == 2
    # The run is told it is a second attempt (to resume from its checkpoint), and the log
    # goes on from where the dead worker left it.
    assert [(str(j.id), j.attempt, j.seed) for j in run.given] == [(orphan, 2, 3)]
    assert resumed["log_tail"] == ["epoch 2: loss 0.700", "exported"]

    # One that took its worker down three times is not tried a fourth.
    doomed = await _as_left_by_a_dead_worker(wl, herons, attempts=3)
    worker.wake()
    failed = await _ended(wl, manager, doomed)
    assert failed["status"] == "failed"
    assert "stopped 3 times" in failed["problem"]["detail"]
    assert len(run.given) == 1
