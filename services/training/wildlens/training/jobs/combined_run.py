"""The combined run: a classifier of single objects (plankton vignettes) that reads the
object's features beside its pixels.

1. The image classifier, exactly as a classifier job trains, evaluates and exports it (the
   dataset carries each object's features from the catalogue).
2. Its calibrated probabilities on every object of the dataset, from its ONNX export (the
   numbers inference will compute).
3. A random forest on the features alone and one on the probabilities with the features,
   fitted on the train and validation objects and scored, with the pixels alone, on the same
   test objects (``features_and_pixels`` in the evaluation report).
4. The combined forest exported to ONNX (``features.onnx``, checked against scikit-learn on
   the test objects) beside the image model in one bundle, whose manifest names the features
   and their stand-ins; registered as a candidate like any classifier, it serves once
   promoted, and objects without features are classified by their pixels alone.
"""

from __future__ import annotations

import asyncio
import uuid

import numpy as np

from wildlens.common.bundles import load_bundle
from wildlens.common.errors import Invalid
from wildlens.common.service.context import ServiceContext
from wildlens.training.datasets import service as datasets
from wildlens.training.datasets.build import Sample
from wildlens.training.features import Comparison, Split, fit_and_compare, forest_onnx
from wildlens.training.features.bundle import add_features_model
from wildlens.training.jobs.champion import Champion, score_champion
from wildlens.training.jobs.classifier_run import ClassifierRun
from wildlens.training.jobs.run import JobSpec, Progress, TrainedModel
from wildlens.training.jobs.store_bridge import StoreReader

__all__ = ["CombinedRun"]


def _split(
    samples: list[Sample], probabilities: np.ndarray, index: dict[str, int], splits: set[str]
) -> Split:
    chosen = [n for n, s in enumerate(samples) if s.split in splits]
    return Split(
        probabilities[chosen],
        [samples[n].features for n in chosen],
        [index[samples[n].class_name] for n in chosen],
    )


def _headline(comparison: Comparison) -> dict[str, float]:
    return {
        "image_top1": comparison.image.accuracy,
        "features_top1": comparison.features.accuracy,
        "combined_top1": comparison.combined.accuracy,
    }


class CombinedRun:
    """Image classifier → features model → combined model, one bundle."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx
        self.classifier = ClassifierRun(ctx)

    async def run(self, job: JobSpec, progress: Progress) -> TrainedModel:
        image = await self.classifier.run(job, progress)
        async with self.ctx.database.transaction() as session:
            dataset = await datasets.find(session, image.dataset_id)
        if dataset is None:
            raise Invalid(f"dataset {image.dataset_id} is gone")
        classes, samples = await datasets.load_samples(self.ctx.store, dataset)
        index = {name: i for i, name in enumerate(classes)}
        bundle = load_bundle(image.bundle_dir)
        if bundle.manifest.label_names != classes:
            raise Invalid("the image model's labels are not the dataset's classes")
        await progress.log(f"scoring {len(samples)} objects with the exported image model")
        read = StoreReader(self.ctx.store, asyncio.get_running_loop())
        scorer = Champion(
            uuid.UUID(int=0),
            bundle.manifest.name,
            bundle.manifest.version,
            bundle.manifest,
            bundle.onnx_path.read_bytes(),
        )
        probabilities = await asyncio.to_thread(
            score_champion, scorer, [s.crop_key for s in samples], read
        )
        fitted = await asyncio.to_thread(
            fit_and_compare,
            classes,
            _split(samples, probabilities, index, {"train", "validation"}),
            _split(samples, probabilities, index, {"test"}),
            seed=job.seed,
        )
        comparison = fitted.comparison
        await progress.log(
            f"test top-1 on {comparison.test_objects} objects: pixels "
            f"{comparison.image.accuracy:.3f}, features {comparison.features.accuracy:.3f}, "
            f"both {comparison.combined.accuracy:.3f} ({len(comparison.feature_names)} features)"
        )
        onnx, parity = await asyncio.to_thread(
            forest_onnx, fitted.combined_model, fitted.combined_test_inputs
        )
        await progress.log(
            f"features model exported to ONNX; largest difference from scikit-learn "
            f"{parity.max_difference:.2e} over {parity.rows} test objects"
        )
        figures = {**image.metrics, **_headline(comparison)}
        await asyncio.to_thread(
            add_features_model,
            image.bundle_dir,
            onnx,
            fitted.table,
            name=f"combined-{job.project_id.hex[:8]}",
            metrics=figures,
            training={"kind": "combined", "features_onnx_max_difference": parity.max_difference},
        )
        report = dict(image.report or {})
        card = report.get("model_card")
        if isinstance(card, dict):
            # The card was written for the image model; the bundle registered is the combined.
            renamed = f"combined-{job.project_id.hex[:8]}"
            previous = str(card.get("name", ""))
            report["model_card"] = {**card, "name": renamed}
            if previous and isinstance(report.get("model_card_markdown"), str):
                report["model_card_markdown"] = report["model_card_markdown"].replace(
                    previous, renamed
                )
        report["features_and_pixels"] = comparison.as_json() | {
            "onnx_max_difference": parity.max_difference
        }
        return TrainedModel(
            bundle_dir=image.bundle_dir,
            dataset_id=image.dataset_id,
            report=report,
            plots=image.plots,
            metrics=figures,
            parent_model_id=image.parent_model_id,
            weights=image.weights,
        )
