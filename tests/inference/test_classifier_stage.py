"""The classification stage on a batch of detector results: every animal box of every image
goes through the classifier in one run, each gets its species, and nothing else is touched."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from tests.support.tiny_models import (
    CLASSIFIER_LABELS,
    build_tiny_classifier,
    generate_species_scene,
)
from wildlens.common.events.v1.media_pb2 import BoundingBox, Detection, MediaAnalyzed
from wildlens.inference.classification.classifier import Classifier
from wildlens.inference.classification.stage import ClassificationStage
from wildlens.inference.taxonomy.cache import TaxonomyCache
from wildlens.inference.taxonomy.catalogue import CatalogueTaxonomy


@pytest.fixture(scope="module")
def tiny_classifier(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("tiny-classifier") if cache is not None else tmp_path_factory.mktemp("tc")
    return build_tiny_classifier(Path(folder))


def _no_catalogue() -> httpx.AsyncClient:
    raise AssertionError("images outside any project need no catalogue")


def _detection(category: str, box: tuple[float, float, float, float]) -> Detection:
    x, y, w, h = box
    return Detection(
        category=category, confidence=0.9, bbox=BoundingBox(x=x, y=y, width=w, height=h)
    )


async def test_all_animal_boxes_of_a_batch_go_through_one_run(tiny_classifier: Path) -> None:
    classifier = Classifier.from_path(tiny_classifier)
    runs: list[int] = []
    original = classifier._run

    def counting(batch: npt.NDArray[np.float32]) -> dict[str, npt.NDArray[np.generic]]:
        runs.append(batch.shape[0])
        return original(batch)

    classifier._run = counting  # type: ignore[method-assign]
    stage = ClassificationStage(
        lambda project_id: classifier, TaxonomyCache(CatalogueTaxonomy(_no_catalogue))
    )
    # Three images, each with an animal on the left and one on the right (different species),
    # and a person, which is no business of a species classifier.
    left, right = (0.05, 0.1, 0.3, 0.35), (0.6, 0.5, 0.3, 0.35)
    results, images, expected = [], {}, []
    for n in range(3):
        a, b = n % 3, (n + 1) % 3
        scene = generate_species_scene(400, 300, left, a, seed=9100 + n)
        # Paint the second animal by cropping it from a scene of its own.
        other = generate_species_scene(400, 300, right, b, seed=9200 + n)
        scene.paste(other.crop((230, 140, 370, 260)), (230, 140))
        media_id = f"m{n}"
        images[media_id] = scene
        results.append(
            MediaAnalyzed(
                media_id=media_id,
                detections=[
                    _detection("animal", left),
                    _detection("person", (0.4, 0.0, 0.1, 0.1)),
                    _detection("animal", right),
                ],
            )
        )
        expected.append((CLASSIFIER_LABELS[a][1], CLASSIFIER_LABELS[b][1]))
    broken = MediaAnalyzed(media_id="bad", failure="image could not be decoded")
    results.append(broken)

    await stage.classify(results, images)

    assert runs == [6]
    for result, (first, second) in zip(results, expected, strict=False):
        animal_a, person, animal_b = result.detections
        assert animal_a.classifications[0].scientific_name == first
        assert animal_b.classifications[0].scientific_name == second
        assert animal_a.prediction_source == "classifier"
        assert len(animal_a.classifications) == len(CLASSIFIER_LABELS)
        confidences = [c.confidence for c in animal_a.classifications]
        assert confidences == sorted(confidences, reverse=True)
        assert sum(confidences) == pytest.approx(1.0, abs=1e-5)
        assert not person.classifications
        assert result.classifier.name == "tiny-classifier"
        assert result.classifier.sha256 == classifier.sha256
        assert result.timings_ms["classify"] > 0
    assert not broken.HasField("classifier")


async def test_boxes_of_a_photo_stored_sideways_are_cut_from_it_upright(
    tiny_classifier: Path,
) -> None:
    # The detector's boxes are on the photo as people see it; a camera that stores it
    # sideways with an EXIF orientation must not get crops from the sideways pixels.
    classifier = Classifier.from_path(tiny_classifier)
    stage = ClassificationStage(
        lambda project_id: classifier, TaxonomyCache(CatalogueTaxonomy(_no_catalogue))
    )
    left, right = (0.05, 0.1, 0.3, 0.35), (0.6, 0.5, 0.3, 0.35)
    scene = generate_species_scene(400, 300, left, 0, seed=9300)
    other = generate_species_scene(400, 300, right, 2, seed=9301)
    scene.paste(other.crop((230, 140, 370, 260)), (230, 140))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown after turning 90° clockwise
    stored = io.BytesIO()
    scene.transpose(Image.Transpose.ROTATE_90).save(stored, format="PNG", exif=exif.tobytes())
    decoded = Image.open(io.BytesIO(stored.getvalue()))
    decoded.load()
    assert decoded.size == (300, 400)
    result = MediaAnalyzed(
        media_id="sideways",
        detections=[_detection("animal", left), _detection("animal", right)],
    )

    await stage.classify([result], {"sideways": decoded})

    first, second = result.detections
    assert first.classifications[0].scientific_name == CLASSIFIER_LABELS[0][1]
    assert second.classifications[0].scientific_name == CLASSIFIER_LABELS[2][1]
