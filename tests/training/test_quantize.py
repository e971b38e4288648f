"""``wildlens models add --quantize``: an int8 variant of a detector, measured against the
fp32 model on a labelled Camtrap DP package, next to it and never in its place."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from tests.e2e.conftest import DATA
from tests.support.heron_detector import build_heron_detector
from wildlens.common.bundles import BundleError, file_sha256, load_bundle
from wildlens.inference.models.detector import Detector
from wildlens.training.converters.quantize import labelled_boxes, quantize_bundle


@pytest.fixture(scope="module")
def herons(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_heron_detector(tmp_path_factory.mktemp("herons"), DATA, any_size=True)


def test_the_int8_variant_is_a_bundle_of_its_own_with_its_accuracy_change(
    herons: Path, tmp_path: Path
) -> None:
    fp32 = load_bundle(herons)
    fp32_hash = file_sha256(fp32.onnx_path)

    made = quantize_bundle(fp32, tmp_path / "int8", DATA)

    # The fp32 bundle is untouched; the variant is another version of the same model.
    assert file_sha256(fp32.onnx_path) == fp32_hash == fp32.manifest.sha256
    int8 = load_bundle(tmp_path / "int8")
    assert (int8.manifest.name, int8.manifest.version) == ("heron-detector", "0.1.0-int8")
    assert int8.manifest.training["quantized_from"] == {
        "version": "0.1.0",
        "sha256": fp32.manifest.sha256,
    }
    assert int8.onnx_path.stat().st_size < fp32.onnx_path.stat().st_size
    # Measured on the ten labelled herons: the fp32 model finds every one of them.
    report = int8.manifest.metrics["int8_against_fp32"]
    assert report["fp32"]["labelled_boxes"] == report["int8"]["labelled_boxes"] == 10
    assert report["fp32"]["recall"] == made.fp32.recall == 1.0
    assert report["change"]["recall"] == pytest.approx(made.int8.recall - 1.0, abs=1e-4)
    assert made.int8.recall >= 0.8  # eight bits keep nearly every heron
    # And the variant serves like any detector.
    detector = Detector.from_path(tmp_path / "int8")
    image = Image.open(next(iter(labelled_boxes(DATA))))
    assert detector.detect([image])[0]


def test_a_package_without_boxes_is_refused(herons: Path, tmp_path: Path) -> None:
    empty = tmp_path / "package"
    empty.mkdir()
    shutil.copy(DATA / "media.csv", empty / "media.csv")

    with pytest.raises(BundleError, match="no Camtrap DP package with boxes"):
        quantize_bundle(load_bundle(herons), tmp_path / "int8", empty)
    assert not (tmp_path / "int8").exists()
