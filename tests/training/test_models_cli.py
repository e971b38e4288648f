"""``wildlens models add|list|promote`` against a running platform: an ONNX file described by
flags; a YOLOv5 checkpoint (MegaDetector v5's kind) and an Ultralytics one (MegaDetector v6's)
converted, served with ``--serve``, and finding the rectangle they were trained to find through
``POST /v1/predict``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import onnx
import pytest

from tests.support.checkpoints import LABELS, RECTANGLE, scene_jpeg
from tests.training.conftest import Served, wait_until_serving
from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE

WILDLENS = str(Path(sys.executable).with_name("wildlens"))


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WILDLENS_")}
    # Ultralytics keeps its settings file in a folder of its own; not the user's home here.
    return {**env, "YOLO_CONFIG_DIR": str(tmp_path / "ultralytics")}


def _wildlens(
    served: Served, tmp_path: Path, *args: str, python: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(python or [WILDLENS]), *args, "--url", served.url],
        capture_output=True,
        text=True,
        env={**_env(tmp_path), "WILDLENS_TOKEN": served.token},
        timeout=300,
    )


def _get(served: Served, path: str) -> Any:
    response = httpx.get(
        f"{served.url}{path}", headers={"Authorization": f"Bearer {served.token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def _iou(a: list[float], b: tuple[float, float, float, float]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def _best_animal(served: Served) -> dict[str, Any]:
    response = httpx.post(
        f"{served.url}/v1/predict",
        files={"file": ("scene.jpg", scene_jpeg(), "image/jpeg")},
        headers={"Authorization": f"Bearer {served.token}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["detection_categories"] == {"1": "animal", "2": "person", "3": "vehicle"}
    (image,) = body["images"]
    animals = [d for d in image["detections"] if d["category"] == "1"]
    assert animals, f"nothing found: {image}"
    return max(animals, key=lambda d: d["conf"])


def test_an_onnx_file_is_added_with_flags_listed_and_promoted(
    served: Served, tiny_detector: Path, tmp_path: Path
) -> None:
    onnx = tmp_path / "downloaded-detector.onnx"
    shutil.copy(tiny_detector / MODEL_FILE, onnx)

    missing = _wildlens(served, tmp_path, "models", "add", str(onnx))
    assert missing.returncode == 1
    assert "give --labels, --input-size, --decoder" in missing.stderr

    # The file, described by flags; the same description twice is the same version twice.
    add = ["models", "add", str(onnx), "--decoder", "generic", "--labels", "animal"]
    add += ["--input-size", "64", "--version", "1.0.0"]
    added = _wildlens(served, tmp_path, *add)
    assert added.returncode == 0, added.stderr
    model_id = added.stdout.strip().splitlines()[-1]
    sha256 = hashlib.sha256(onnx.read_bytes()).hexdigest()
    assert f"SHA-256 {sha256}" in added.stderr
    model = _get(served, f"/v1/models/{model_id}")
    assert (model["name"], model["version"], model["stage"]) == (
        "downloaded-detector",
        "1.0.0",
        "registered",
    )
    assert (model["source"], model["sha256"]) == ("external", sha256)

    # It went up through PUT URLs, with progress, and the platform's job registered it.
    assert "Uploaded; the platform checks the bundle" in added.stderr
    assert "model.onnx" in added.stderr
    # The same version again: refused before anything is sent, and said plainly.
    again = _wildlens(served, tmp_path, *add)
    assert again.returncode == 1
    assert "409 Conflict: model downloaded-detector 1.0.0 is registered already" in again.stderr

    listed = _wildlens(served, tmp_path, "models", "list")
    assert listed.returncode == 0, listed.stderr
    assert model_id in listed.stdout
    assert "registered" in listed.stdout

    promoted = _wildlens(served, tmp_path, "models", "promote", "downloaded-detector:1.0.0")
    assert promoted.returncode == 0, promoted.stderr
    assert "downloaded-detector 1.0.0 serves every project" in promoted.stderr
    history = _get(served, f"/v1/models/{model_id}")["history"]
    assert [(c["to_stage"], c["changed_by"]) for c in history] == [
        ("registered", "admin"),
        ("production", "admin"),
    ]
    wait_until_serving(served, "downloaded-detector", "1.0.0")


@pytest.mark.parametrize(
    ("checkpoint", "decoder"),
    [("yolov5_checkpoint", "megadetector-v5"), ("ultralytics_checkpoint", "yolov8")],
)
def test_a_checkpoint_is_converted_served_and_finds_what_it_was_trained_to_find(
    served: Served, tmp_path: Path, request: pytest.FixtureRequest, checkpoint: str, decoder: str
) -> None:
    path: Path = request.getfixturevalue(checkpoint)
    kept = tmp_path / "bundle"
    added = _wildlens(served, tmp_path, "models", "add", str(path), "--serve", "--keep", str(kept))
    assert added.returncode == 0, added.stderr
    model = _get(served, f"/v1/models/{added.stdout.strip().splitlines()[-1]}")
    assert model["stage"] == "production"
    assert f"SHA-256 {hashlib.sha256(path.read_bytes()).hexdigest()}" in added.stderr
    assert f"MD5     {hashlib.md5(path.read_bytes()).hexdigest()}" in added.stderr

    manifest = json.loads((kept / MANIFEST_FILE).read_text())
    assert manifest["decoder"] == decoder
    assert [label["label"] for label in manifest["labels"]] == list(LABELS)
    assert (manifest["input"]["width"], manifest["input"]["letterbox"]) == (160, True)
    assert manifest["sha256"] == model["sha256"]
    # Exported to take any height and width, so a 4:3 scene is letterboxed to a rectangle.
    (images,) = onnx.load(str(kept / MODEL_FILE)).graph.input
    height, width = (d.dim_param or d.dim_value for d in images.type.tensor_type.shape.dim[2:])
    assert (height, width) == ("height", "width")

    wait_until_serving(served, model["name"], model["version"])
    best = _best_animal(served)
    assert _iou(best["bbox"], RECTANGLE) >= 0.5, (best, RECTANGLE)


def test_without_the_converters_a_checkpoint_names_the_extra_to_install(
    served: Served, yolov5_checkpoint: Path, tmp_path: Path
) -> None:
    # The converters' packages made unimportable, as where the extra is not installed.
    hidden = [
        sys.executable,
        "-c",
        "import sys; sys.modules['ultralytics'] = sys.modules['yolov5'] = None; "
        "sys.argv[0] = 'wildlens'; from wildlens.common.cli.main import app; app()",
    ]
    refused = _wildlens(
        served, tmp_path, "models", "add", str(yolov5_checkpoint), "--serve", python=hidden
    )
    assert refused.returncode == 3, refused.stderr
    assert "AGPL-3.0" in refused.stderr
    assert "wildlens-training[converters]" in refused.stderr
    assert "--no-deps yolov5==7.0.14" in refused.stderr

    junk = tmp_path / "weights.pt"
    junk.write_bytes(b"not a checkpoint at all")
    refused = _wildlens(served, tmp_path, "models", "add", str(junk))
    assert refused.returncode == 1
    assert "not a YOLOv5 or Ultralytics detector checkpoint" in refused.stderr
    assert "weights" not in [m["name"] for m in _get(served, "/v1/models")["items"]]


def test_quantize_registers_a_measured_int8_variant_and_serves_the_fp32_model(
    served: Served, tmp_path: Path
) -> None:
    from tests.e2e.conftest import DATA
    from tests.support.heron_detector import build_heron_detector

    herons = build_heron_detector(tmp_path / "herons", DATA, any_size=True)
    onnx = tmp_path / "herons.onnx"
    shutil.copy(herons / MODEL_FILE, onnx)
    add = ["models", "add", str(onnx), "--decoder", "generic", "--labels", "animal"]
    add += ["--input-size", "128", "--version", "2.0.0", "--quantize"]

    unmeasured = _wildlens(served, tmp_path, *add)
    assert unmeasured.returncode == 2
    assert "--quantize needs --labelled" in unmeasured.stderr

    added = _wildlens(served, tmp_path, *add, "--labelled", str(DATA), "--serve")
    assert added.returncode == 0, added.stderr
    # Both models' accuracy on the labelled herons, and the change, are shown.
    table = added.stderr[added.stderr.index("mean IoU") :]
    assert "fp32" in table
    assert "int8" in table
    assert "change" in table
    fp32 = _get(served, f"/v1/models/{added.stdout.strip().splitlines()[-1]}")
    assert (fp32["name"], fp32["version"], fp32["stage"]) == ("herons", "2.0.0", "production")
    listed = _get(served, "/v1/models?limit=1000")["items"]
    (variant,) = [m for m in listed if (m["name"], m["version"]) == ("herons", "2.0.0-int8")]
    assert variant["stage"] == "registered"  # next to the fp32 model, never in its place
    wait_until_serving(served, "herons", "2.0.0")
