from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wildlens.common.bundles import (
    MANIFEST_FILE,
    MODEL_FILE,
    BundleError,
    load_bundle,
    write_bundle,
)
from wildlens.common.errors import Invalid

ONNX = b"not really onnx, but hashing does not care"


def fields(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "md-test",
        "version": "5.0.0",
        "kind": "detector",
        "input": {"width": 1280, "height": 1280},
        "decoder": "megadetector-v5",
        "labels": [{"label": "animal"}, {"label": "person"}, {"label": "vehicle"}],
        "thresholds": {"per_label": {"person": 0.5}},
        **overrides,
    }


def manifest_json(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / MANIFEST_FILE).read_text())
    return data


def test_written_bundle_loads_with_its_hash_and_defaults(tmp_path: Path) -> None:
    written = write_bundle(tmp_path, ONNX, fields())

    bundle = load_bundle(tmp_path)

    assert bundle == written
    assert bundle.onnx_path == tmp_path / MODEL_FILE
    manifest = bundle.manifest
    assert len(manifest.sha256) == 64
    assert manifest_json(tmp_path)["sha256"] == manifest.sha256
    assert manifest.input.letterbox is True
    assert manifest.input.pad_value == 114
    assert manifest.nms_iou == 0.45
    assert manifest.threshold_for("person") == 0.5
    assert manifest.threshold_for("animal") == 0.2


def test_bundle_from_an_onnx_file_path(tmp_path: Path) -> None:
    source = tmp_path / "exported.onnx"
    source.write_bytes(ONNX)

    bundle = write_bundle(tmp_path / "bundle", source, fields())

    assert bundle.onnx_path.read_bytes() == ONNX


def test_hash_mismatch_is_refused(tmp_path: Path) -> None:
    write_bundle(tmp_path, ONNX, fields())
    (tmp_path / MODEL_FILE).write_bytes(ONNX + b"tampered")

    with pytest.raises(BundleError, match="does not match its manifest: SHA-256 is") as caught:
        load_bundle(tmp_path)
    assert isinstance(caught.value, Invalid)


def test_missing_manifest(tmp_path: Path) -> None:
    (tmp_path / MODEL_FILE).write_bytes(ONNX)

    with pytest.raises(BundleError, match=f"has no {MANIFEST_FILE}"):
        load_bundle(tmp_path)


def test_missing_model(tmp_path: Path) -> None:
    write_bundle(tmp_path, ONNX, fields())
    (tmp_path / MODEL_FILE).unlink()

    with pytest.raises(BundleError, match=f"has no {MODEL_FILE}"):
        load_bundle(tmp_path)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="is not a folder"):
        load_bundle(tmp_path / "nowhere")


def test_bad_json_names_the_position(tmp_path: Path) -> None:
    write_bundle(tmp_path, ONNX, fields())
    (tmp_path / MANIFEST_FILE).write_text('{"name": "md",\n  "version": }')

    with pytest.raises(BundleError, match=r"is not valid JSON: .*\(line 2, column 14\)"):
        load_bundle(tmp_path)


def test_unknown_decoder_names_the_field_and_the_choices(tmp_path: Path) -> None:
    write_bundle(tmp_path, ONNX, fields())
    data = manifest_json(tmp_path)
    data["decoder"] = "yolov99"
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(data))

    with pytest.raises(BundleError, match=r"decoder: Input should be 'generic'") as caught:
        load_bundle(tmp_path)
    assert caught.value.fields[0].location == ["file", MANIFEST_FILE, "decoder"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"decoder": None}, "a detector needs a decoder"),
        ({"labels": [{"label": "animal"}, {"label": "animal"}]}, "duplicate labels: animal"),
        ({"thresholds": {"per_label": {"unicorn": 0.3}}}, "unknown labels: unicorn"),
        ({"input": {"width": 0, "height": 64}}, "input.width: Input should be greater than 0"),
        ({"treshold": 0.3}, "treshold: Extra inputs are not permitted"),
    ],
)
def test_schema_errors_say_what_is_wrong(
    tmp_path: Path, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(BundleError, match=message):
        write_bundle(tmp_path, ONNX, fields(**overrides))
    assert not (tmp_path / MANIFEST_FILE).exists()
