"""The species classifier: an ONNX export answers as its torch model does, every crop of a
batch is classified in runs of at most the batch size, and the right species comes out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch
from PIL import Image

from tests.support.tiny_models import (
    CLASSIFIER_INPUT,
    CLASSIFIER_LABELS,
    build_tiny_classifier,
    generate_species_scene,
    load_tiny_classifier,
    random_box,
)
from wildlens.common.bundles import BundleError, load_bundle, write_bundle
from wildlens.common.imaging import preprocess_batch, square_crop
from wildlens.inference.classification.classifier import Classifier, as_probabilities

# Scene seeds far from anything the training set draws.
FRESH = 700_000


@pytest.fixture(scope="module")
def tiny_classifier(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("tiny-classifier") if cache is not None else tmp_path_factory.mktemp("tc")
    return build_tiny_classifier(Path(folder))


def _crops(count: int, seed: int) -> tuple[list[Image.Image], list[int]]:
    rng = np.random.default_rng(seed)
    crops: list[Image.Image] = []
    truth: list[int] = []
    for i in range(count):
        species = int(rng.integers(0, len(CLASSIFIER_LABELS)))
        width, height = (int(v) for v in rng.integers(120, 400, size=2))
        box = random_box(rng)
        scene = generate_species_scene(width, height, box, species, seed=FRESH + seed + i)
        crops.append(square_crop(scene, box))
        truth.append(species)
    return crops, truth


def test_onnx_answers_as_torch_does(tiny_classifier: Path) -> None:
    crops, _ = _crops(6, seed=1)
    classifier = Classifier.from_path(tiny_classifier)
    onnx = classifier.classify(crops)

    batch, _ = preprocess_batch(crops, CLASSIFIER_INPUT)
    with torch.no_grad():
        logits = load_tiny_classifier(tiny_classifier)(torch.from_numpy(batch)).numpy()
    expected = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
    np.testing.assert_allclose(onnx, expected, atol=1e-5)
    np.testing.assert_allclose(onnx.sum(axis=1), 1.0, atol=1e-6)


def test_crops_beyond_the_batch_size_go_in_several_runs_with_the_same_answers(
    tiny_classifier: Path,
) -> None:
    crops, _ = _crops(7, seed=2)
    whole = Classifier.from_path(tiny_classifier, max_batch_size=32).classify(crops)
    runs: list[int] = []
    chunked = Classifier.from_path(tiny_classifier, max_batch_size=3)
    original = chunked._run

    def counting(batch: npt.NDArray[np.float32]) -> dict[str, npt.NDArray[np.generic]]:
        runs.append(batch.shape[0])
        return original(batch)

    chunked._run = counting  # type: ignore[method-assign]
    np.testing.assert_allclose(chunked.classify(crops), whole, atol=1e-6)
    assert runs == [3, 3, 1]
    assert Classifier.from_path(tiny_classifier).classify([]).shape == (0, 3)


def test_the_tiny_classifier_tells_the_species_apart(tiny_classifier: Path) -> None:
    crops, truth = _crops(60, seed=3)
    predicted = Classifier.from_path(tiny_classifier).classify(crops).argmax(axis=1)
    assert (predicted == np.array(truth)).mean() >= 0.9


def test_probabilities_are_kept_and_logits_get_a_softmax() -> None:
    probabilities = np.array([[0.7, 0.2, 0.1]])
    np.testing.assert_allclose(as_probabilities(probabilities), probabilities)
    logits = np.array([[2.0, 1.0, 0.0]])
    e = np.exp([2.0, 1.0, 0.0])
    np.testing.assert_allclose(as_probabilities(logits), [e / e.sum()])


def test_a_temperature_divides_logits_and_probabilities_alike() -> None:
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, -1.0]])
    e = np.exp(logits / 2.0)
    expected = e / e.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(as_probabilities(logits, 2.0), expected)
    # A softmax inside the graph: the same calibrated answer from its probabilities.
    inside = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(as_probabilities(inside, 2.0), expected)
    with pytest.raises(ValueError, match="temperature must be positive"):
        as_probabilities(logits, 0.0)


def test_the_bundles_temperature_softens_the_answers_it_serves(
    tiny_classifier: Path, tmp_path: Path
) -> None:
    manifest = load_bundle(tiny_classifier).manifest
    assert manifest.temperature == 1.0
    fields = manifest.model_dump(exclude={"sha256"})
    warm = write_bundle(
        tmp_path / "warm", tiny_classifier / "model.onnx", fields | {"temperature": 3.0}
    )
    crops, _ = _crops(5, seed=5)
    plain = Classifier.from_path(tiny_classifier).classify(crops)
    softened = Classifier(warm).classify(crops)
    assert (softened.argmax(axis=1) == plain.argmax(axis=1)).all()
    assert (softened.max(axis=1) < plain.max(axis=1)).all()
    expected = np.exp(np.log(plain) / 3.0)
    np.testing.assert_allclose(softened, expected / expected.sum(axis=1, keepdims=True), atol=1e-6)


def test_a_classifier_whose_output_disagrees_with_its_labels_is_refused(
    tiny_classifier: Path, tmp_path: Path
) -> None:
    manifest = load_bundle(tiny_classifier).manifest.model_dump(exclude={"sha256"})
    manifest["labels"] = manifest["labels"][:2]
    bundle = write_bundle(tmp_path / "two", tiny_classifier / "model.onnx", manifest)
    crops, _ = _crops(1, seed=4)
    with pytest.raises(BundleError, match="answers 3 scores per crop but its manifest lists 2"):
        Classifier(bundle).classify(crops)


def test_a_detector_bundle_is_not_a_classifier(tiny_detector: Path) -> None:
    with pytest.raises(BundleError, match="is a detector, not a classifier"):
        Classifier.from_path(tiny_detector)
