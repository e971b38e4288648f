"""The classification stage on a batch of detector results: every animal box of every image
goes through the classifier in one run, each gets its species, and nothing else is touched."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import httpx
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from prometheus_client import REGISTRY

from tests.support.tiny_models import (
    CLASSIFIER_LABELS,
    build_tiny_classifier,
    generate_species_scene,
)
from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Detection,
    MediaAnalyzed,
    MediaKind,
    MediaRecorded,
)
from wildlens.common.imaging import square_crop
from wildlens.common.service.context import ServiceContext
from wildlens.common.settings import compose_settings
from wildlens.common.storage import LocalStore
from wildlens.inference.analysis.runner import Analyzer
from wildlens.inference.classification.classifier import Classifier
from wildlens.inference.classification.stage import ClassificationStage
from wildlens.inference.models.serving import ModelServing
from wildlens.inference.settings import InferenceSettings
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


async def test_a_batch_of_single_objects_is_classified_whole_beside_an_undecodable_one(
    tiny_classifier: Path, tmp_path: Path
) -> None:
    # Vignettes are each their own crop: a grey one (as plankton imagers store them) and a
    # wide one (padded to a square, as training pads it) get the answer the classifier gives
    # their RGB square, and an object that is no image is reported beside them.
    classifier = Classifier.from_path(tiny_classifier)
    store = LocalStore(tmp_path / "objects", public_url="http://127.0.0.1:0", signing_key=b"k")
    await store.start()
    vignettes = {
        "grey": generate_species_scene(60, 60, (0.1, 0.1, 0.8, 0.8), 1, seed=9400).convert("L"),
        "wide": generate_species_scene(90, 60, (0.1, 0.1, 0.8, 0.8), 2, seed=9401),
    }
    for name, image in vignettes.items():
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        await store.put_bytes(f"objects/{name}.png", buffer.getvalue(), "image/png")
    await store.put_bytes("objects/bad.png", b"GIF89a not really", "image/png")
    settings = compose_settings([InferenceSettings]).model_validate({"data_dir": tmp_path})
    analyzer = Analyzer(
        cast(ServiceContext, SimpleNamespace(settings=settings, store=store)),
        ModelServing(cache=cast(Any, None)),
    )
    analyzer.classification = ClassificationStage(
        lambda project_id: classifier, TaxonomyCache(CatalogueTaxonomy(_no_catalogue))
    )
    events = [
        MediaRecorded(
            media_id=name,
            object_key=f"objects/{name}.png",
            kind=MediaKind.MEDIA_KIND_IMAGE,
            single_object=True,
        )
        for name in ("grey", "bad", "wide")
    ]
    labels = {"source": "object", "outcome": "undecodable"}
    undecodable = REGISTRY.get_sample_value("wildlens_inference_images_total", labels) or 0.0

    grey, bad, wide = await analyzer.analyze_objects(events)
    await analyzer.close()

    assert "could not be decoded" in bad.failure
    assert not bad.detections
    assert not bad.HasField("classifier")
    assert REGISTRY.get_sample_value("wildlens_inference_images_total", labels) == undecodable + 1
    expected = classifier.classify(
        [square_crop(vignettes[name].convert("RGB"), (0.0, 0.0, 1.0, 1.0)) for name in vignettes]
    )
    for result, row in zip((grey, wide), expected, strict=True):
        (whole,) = result.detections
        assert result.classifier.name == "tiny-classifier"
        assert set(result.timings_ms) == {"fetch", "decode", "classify"}
        best = int(np.argmax(row))
        assert whole.classifications[0].label == CLASSIFIER_LABELS[best][0]
        assert whole.classifications[0].image_confidence == pytest.approx(row[best], abs=1e-5)
    assert (wide.image_width, wide.image_height) == (90, 60)
