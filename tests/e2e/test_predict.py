"""``POST /v1/predict``: an image or a media id in, MegaDetector batch output (1.6) out."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import Site, bearer, ok
from tests.support.factories import Uploads
from tests.support.platform import (
    RunningPlatform,
    SettingsFactory,
    eventually,
    get_media,
    running,
    user_token,
    with_group,
)
from wildlens.common.settings import Settings
from wildlens.inference.settings import InferenceSettings

TRUTH = (0.30, 0.25, 0.35, 0.40)


def _scene_jpeg(seed: int = 4242, truth: tuple[float, float, float, float] = TRUTH) -> bytes:
    from tests.support.tiny_models import generate_scene

    buffer = io.BytesIO()
    generate_scene(800, 600, truth, seed=seed).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def _iou(a: list[float], b: tuple[float, float, float, float]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def check_megadetector_format(body: dict[str, Any]) -> None:
    """The rules MegaDetector's own validator (validate_batch_results) applies to format 1.6."""
    assert isinstance(body["info"]["format_version"], str)
    assert float(body["info"]["format_version"]) == 1.6
    for key, name in body["detection_categories"].items():
        assert isinstance(key, str)
        int(key)
        assert name.strip()
    classification_ids = body.get("classification_categories", {})
    for key in classification_ids:
        int(key)
    for image in body["images"]:
        assert isinstance(image["file"], str)
        if image.get("failure") is not None:
            assert image.get("detections") is None
            continue
        assert isinstance(image["detections"], list)
        for det in image["detections"]:
            assert det["category"] in body["detection_categories"]
            assert isinstance(det["conf"], float)
            assert len(det["bbox"]) == 4
            assert all(0.0 <= v <= 1.0 for v in det["bbox"])
            for cid, conf in det.get("classifications") or []:
                assert cid in classification_ids
                assert isinstance(conf, float | int)


def _best_animal(body: dict[str, Any]) -> dict[str, Any]:
    animal = next(k for k, v in body["detection_categories"].items() if v == "animal")
    detections = [d for d in body["images"][0]["detections"] if d["category"] == animal]
    assert detections, body
    return max(detections, key=lambda d: d["conf"])


@pytest.mark.tiny_detector
@pytest.mark.services("inference")
async def test_an_uploaded_image_comes_back_in_megadetector_format(
    wl: RunningPlatform, settings: Settings
) -> None:
    viewer = user_token(settings, "app", {})
    response = await wl.client.post(
        "/v1/predict",
        files={"file": ("IMG_0042.JPG", _scene_jpeg(), "image/jpeg")},
        headers=bearer(viewer),
    )
    body = await ok(response, 200)
    check_megadetector_format(body)
    assert body["detection_categories"] == {"1": "animal"}
    assert body["info"]["detector"] == "tiny-detector 0.1.0"
    assert [image["file"] for image in body["images"]] == ["IMG_0042.JPG"]
    best = _best_animal(body)
    assert best["conf"] >= 0.2
    assert _iou(best["bbox"], TRUTH) >= 0.5

    # The same numbers the pipeline publishes: predictions share the consumer's batcher.
    metrics = (await wl.client.get("/metrics")).text
    assert 'wildlens_inference_images_total{outcome="ok",source="predict"}' in metrics


@pytest.mark.tiny_detector
async def test_a_media_id_the_caller_may_read_is_analysed_and_others_are_not_found(
    wl: RunningPlatform, settings: Settings, admin: str, site: Site, upload: Uploads
) -> None:
    truth = (0.5, 0.4, 0.3, 0.35)
    posted = await ok(
        await upload.post(
            data=_scene_jpeg(seed=7, truth=truth),
            filename="scene.jpg",
            fields={"captured_at": "2021-04-01T12:00:00+02:00"},
        ),
        202,
    )
    media_id = posted["media_id"]
    assert await eventually(lambda: get_media(wl.client, admin, media_id))

    viewer = user_token(settings, "viewer", {site.project_id: "viewer"})
    body = await ok(
        await wl.client.post("/v1/predict", data={"media_id": media_id}, headers=bearer(viewer)),
        200,
    )
    check_megadetector_format(body)
    assert body["images"][0]["file"] == media_id
    assert _iou(_best_animal(body)["bbox"], truth) >= 0.5

    other = await ok(
        await wl.client.post("/v1/projects", json={"name": "other"}, headers=bearer(admin)),
        201,
    )
    outsider = user_token(settings, "outsider", {other["id"]: "admin"})
    for token in (outsider, user_token(settings, "stranger", {})):
        response = await wl.client.post(
            "/v1/predict", data={"media_id": media_id}, headers=bearer(token)
        )
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "NotFound"
    response = await wl.client.post(
        "/v1/predict",
        data={"media_id": "00000000-0000-4000-8000-000000000000"},
        headers=bearer(admin),
    )
    assert response.status_code == 404

    # A gateway's device token may post media, not ask for predictions.
    response = await wl.client.post(
        "/v1/predict", data={"media_id": media_id}, headers=bearer(site.device_token)
    )
    assert response.status_code == 403


async def test_bad_requests_say_what_is_wrong(
    settings_for: SettingsFactory, tiny_detector: Path
) -> None:
    settings = with_group(
        settings_for(detector=tiny_detector), InferenceSettings, max_predict_bytes=50_000
    )
    async with running(settings) as wl:
        token = user_token(settings, "app", {})
        h = bearer(token)

        response = await wl.client.post("/v1/predict", data={}, headers=h)
        assert response.status_code == 422
        assert "exactly one of 'file'" in response.json()["detail"]

        both = await wl.client.post(
            "/v1/predict",
            files={"file": ("a.jpg", _scene_jpeg(), "image/jpeg")},
            data={"media_id": "00000000-0000-4000-8000-000000000000"},
            headers=h,
        )
        assert both.status_code == 422
        assert "exactly one" in both.json()["detail"]

        text = await wl.client.post(
            "/v1/predict", files={"file": ("notes.jpg", b"not an image", "image/jpeg")}, headers=h
        )
        assert text.status_code == 422
        assert "could not be decoded" in text.json()["detail"]

        empty = await wl.client.post(
            "/v1/predict", files={"file": ("empty.jpg", b"", "image/jpeg")}, headers=h
        )
        assert empty.status_code == 422
        assert "empty" in empty.json()["detail"]

        big = await wl.client.post(
            "/v1/predict",
            files={"file": ("big.png", b"\x89PNG" + bytes(60_000), "image/png")},
            headers=h,
        )
        assert big.status_code == 413
        assert "larger than 50000 bytes" in big.json()["detail"]

        bad_id = await wl.client.post("/v1/predict", data={"media_id": "heron-1"}, headers=h)
        assert bad_id.status_code == 422

        nobody = await wl.client.post(
            "/v1/predict", files={"file": ("a.jpg", _scene_jpeg(), "image/jpeg")}
        )
        assert nobody.status_code == 401

        # Another project's own model is not the caller's to use.
        stranger_project = await wl.client.post(
            "/v1/predict",
            files={"file": ("a.jpg", _scene_jpeg(), "image/jpeg")},
            data={"project_id": "00000000-0000-4000-8000-000000000001"},
            headers=h,
        )
        assert stranger_project.status_code == 404


@pytest.mark.services("inference")
async def test_without_a_detector_predict_answers_unavailable(
    wl: RunningPlatform, settings: Settings
) -> None:
    response = await wl.client.post(
        "/v1/predict",
        files={"file": ("a.jpg", _scene_jpeg(), "image/jpeg")},
        headers=bearer(user_token(settings, "app", {})),
    )
    assert response.status_code == 503
    assert "no detector" in response.json()["detail"]


async def test_a_classifier_adds_megadetector_classifications(
    settings_for: SettingsFactory,
    tiny_detector: Path,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from tests.support.tiny_models import build_tiny_classifier, generate_species_scene

    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("tiny-classifier") if cache is not None else tmp_path_factory.mktemp("c")
    classifier = build_tiny_classifier(Path(folder))
    settings = with_group(
        settings_for(detector=tiny_detector), InferenceSettings, classifier=classifier
    )
    buffer = io.BytesIO()
    generate_species_scene(640, 480, TRUTH, 0, seed=11).save(buffer, format="JPEG", quality=92)
    async with running(settings) as wl:
        body = await ok(
            await wl.client.post(
                "/v1/predict",
                files={"file": ("heron.jpg", buffer.getvalue(), "image/jpeg")},
                headers=bearer(user_token(settings, "app", {})),
            ),
            200,
        )
    check_megadetector_format(body)
    assert body["info"]["classifier"].startswith("tiny-classifier ")
    best = _best_animal(body)
    top_id, top_conf = best["classifications"][0]
    # The tiny classifier's first label is the grey heron this scene is tinted as.
    assert body["classification_categories"][top_id] == "grey-heron"
    assert top_conf > 0.5
