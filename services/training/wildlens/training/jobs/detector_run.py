"""The run of a ``detector`` job: confirmed boxes in, an evaluated detector bundle out.

1. The dataset: whole frames with every confirmed box of the label spec's classes
   (expert-validated or volunteers' consensus, as the spec's ``confirmed_by`` says), split
   by location like every dataset, under an id of the job's own.
2. Training in a thread (torch): a torchvision FCOS detector, the epoch with the best
   validation mAP@0.5 kept; progress reported to the job each epoch.
3. Evaluation on the test split with pycocotools: mAP@0.5 and @0.5:0.95, AP per class,
   precision and recall at the bundle's thresholds, per location; the detector now serving
   run on the same frames.
4. Export: ONNX through a wrapper in the ``generic`` decoder's layout, checked against torch
   on every test frame, and the bundle with its model card; the worker registers it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from wildlens.common.bundles import LabelSpec as BundleLabel
from wildlens.common.bundles import write_bundle
from wildlens.common.errors import Invalid
from wildlens.training.datasets.build import Sample as DatasetSample
from wildlens.training.evaluation.detection import Frame, FrameDetections, evaluate_detector
from wildlens.training.jobs.champion_detector import (
    ChampionDetector,
    find_champion_detector,
    run_champion_detector,
)
from wildlens.training.jobs.classifier_run import ClassifierRun, _bundle_label
from wildlens.training.jobs.run import JobSpec, Progress, TrainedModel
from wildlens.training.jobs.store_bridge import StoreReader

__all__ = ["DETECTION_THRESHOLD", "NMS_IOU", "DetectorRun"]

# The bundle's score threshold and NMS overlap: what inference applies, and what precision
# and recall are reported at.
DETECTION_THRESHOLD = 0.3
NMS_IOU = 0.45
_PROGRESS_TIMEOUT_S = 120.0


def _frames(samples: Sequence[DatasetSample], index: dict[str, int]) -> list[Any]:
    """One engine frame per medium, with all its boxes, in a stable order."""
    from wildlens.training.engine import detection

    by_media: dict[str, list[DatasetSample]] = {}
    for sample in samples:
        by_media.setdefault(sample.media_id, []).append(sample)
    return [
        detection.FrameSample(
            key=boxes[0].crop_key,
            boxes=[tuple(s.bbox) for s in boxes],  # type: ignore[misc]
            labels=[index[s.class_name] for s in boxes],
            split=boxes[0].split,
            location_id=boxes[0].location_id,
        )
        for _, boxes in sorted(by_media.items())
    ]


def _in_pixels(sample: Any, size: tuple[int, int]) -> Frame:
    w, h = size
    boxes = np.asarray(
        [(x * w, y * h, (x + bw) * w, (y + bh) * h) for x, y, bw, bh in sample.boxes],
        dtype=np.float64,
    ).reshape(-1, 4)
    return Frame(boxes, np.asarray(list(sample.labels), dtype=np.int64), sample.location_id)


class DetectorRun(ClassifierRun):
    """Dataset of frames → detector training → evaluation → export."""

    async def run(self, job: JobSpec, progress: Progress) -> TrainedModel:
        from wildlens.training.engine import detection
        from wildlens.training.engine.detection.trainer import frames_of

        loop = asyncio.get_running_loop()
        store = self.ctx.store
        dataset_id, classes, samples = await self._dataset(job, self._reader(), progress)
        index = {name: i for i, name in enumerate(classes)}
        frames = _frames(samples, index)
        test = [f for f in frames if f.split == "test"]
        if not test:
            raise Invalid(
                f"dataset {dataset_id} has no test split: its frames come from too few "
                "locations to hold some back; add images from more locations"
            )
        read = StoreReader(store, loop)
        hp = job.hyperparameters
        config = detection.DetectorConfig(
            architecture=job.architecture,
            size=hp.image_size,
            epochs=hp.epochs,
            batch_size=max(2, hp.batch_size),
            learning_rate=hp.learning_rate,
            patience=hp.patience,
            seed=job.seed,
        )

        def on_epoch(report: Any) -> None:
            figures = {} if report.map_50 is None else {"map_50": report.map_50}
            line = f"epoch {report.epoch}/{report.epochs}: loss {report.loss:.4f}" + (
                f", validation mAP@0.5 {report.map_50:.3f}" if report.map_50 is not None else ""
            )
            asyncio.run_coroutine_threadsafe(
                self._epoch(progress, report.epoch, report.loss, figures, report.eta_seconds, line),
                loop,
            ).result(_PROGRESS_TIMEOUT_S)

        start, _ = await self._weights(job)
        trainer = detection.DetectorTrainer(
            config,
            classes,
            frames,
            read=read,
            weights=start,
            on_epoch=on_epoch,
            should_stop=lambda: progress.cancelled,
        )
        result = await asyncio.to_thread(trainer.fit)
        await progress.log(
            f"trained {result.epochs_run} epochs in {result.seconds:.0f} s; best epoch "
            f"{result.best_epoch}" + (", stopped early" if result.stopped_early else "")
        )

        thresholds = dict.fromkeys(classes, DETECTION_THRESHOLD)
        found = await asyncio.to_thread(
            detection.predict, result.model, test, hp.image_size, read, nms_iou=NMS_IOU
        )
        truth = await asyncio.to_thread(frames_of, test, hp.image_size, read)
        detections = [FrameDetections(p.boxes, p.scores, p.labels) for p in found]
        challenger = evaluate_detector(truth, detections, classes, thresholds)
        challenger["class_agnostic"] = _agnostic(truth, detections, DETECTION_THRESHOLD)
        await progress.log(
            f"test mAP@0.5 {challenger['map_50']:.3f}, mAP@0.5:0.95 {challenger['map_50_95']:.3f}"
        )
        champion = await self._champion_detector(job)
        champion_figures = (
            None
            if champion is None
            else await asyncio.to_thread(score_champion, champion, test, classes, read)
        )

        name = f"detector-{job.project_id.hex[:8]}"
        version = f"job-{job.id.hex[:12]}"
        figures = {
            key: float(challenger[key])
            for key in ("map_50", "map_50_95", "precision", "recall")
            if challenger.get(key) is not None
        }
        onnx = await asyncio.to_thread(detection.export_detector_onnx, result.model, hp.image_size)
        parity = await asyncio.to_thread(
            detection.check_detector_parity, result.model, onnx, test, hp.image_size, read
        )
        await progress.log(
            f"exported to ONNX; largest difference from torch {parity.box_difference:.2e} of "
            f"the side in a box, {parity.score_difference:.2e} in a score, over "
            f"{parity.images} test frames"
        )
        by_class: dict[str, list[DatasetSample]] = {c: [] for c in classes}
        for sample in samples:
            by_class[sample.class_name].append(sample)
        training = {
            "job_id": str(job.id),
            "dataset_id": str(dataset_id),
            "architecture": job.architecture,
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "seed": job.seed,
            "base_weights": result.base_weights.source,
            "onnx_parity": {
                "box_difference": parity.box_difference,
                "score_difference": parity.score_difference,
                "images": parity.images,
            },
        }
        labels: list[BundleLabel] = [_bundle_label(c, by_class[c]) for c in classes]
        await asyncio.to_thread(
            write_bundle,
            job.workdir / "bundle",
            onnx,
            {
                "name": name,
                "version": version,
                "kind": "detector",
                "decoder": "generic",
                "input": detection.data.input_spec(hp.image_size).model_dump(),
                "labels": [label.model_dump(exclude_none=True) for label in labels],
                "thresholds": {"default": DETECTION_THRESHOLD},
                "nms_iou": NMS_IOU,
                "max_detections": 100,
                "metrics": figures,
                "training": training,
            },
        )
        from wildlens.training import engine

        card = engine.ModelCard(
            name=name,
            version=version,
            architecture=job.architecture,
            dataset_id=str(dataset_id),
            classes=classes,
            counts=self._counts(samples),
            metrics=figures,
            base_weights=result.base_weights.source,
            training={
                "epochs_run": result.epochs_run,
                "best_epoch": result.best_epoch,
                "input_size": hp.image_size,
                "onnx_box_difference": parity.box_difference,
                "onnx_score_difference": parity.score_difference,
            },
        )
        document: dict[str, Any] = {
            "kind": "detector",
            "dataset_id": str(dataset_id),
            "thresholds": thresholds,
            "challenger": challenger,
            "champion": champion_figures,
            "champion_model": None
            if champion is None
            else {"id": str(champion.model_id), "name": champion.name, "version": champion.version},
            "model_card": card.as_json(),
            "model_card_markdown": card.markdown(),
        }
        return TrainedModel(
            bundle_dir=job.workdir / "bundle",
            dataset_id=dataset_id,
            report=document,
            metrics=figures,
            weights=await asyncio.to_thread(self._state_dict, result.model),
        )

    async def _champion_detector(self, job: JobSpec) -> ChampionDetector | None:
        async with self.ctx.database.transaction() as session:
            return await find_champion_detector(session, self.ctx.store, job.project_id)


def score_champion(
    champion: ChampionDetector,
    test: Sequence[Any],
    classes: Sequence[str],
    read: Callable[[str], bytes],
) -> dict[str, Any]:
    """The serving detector's figures on the test frames: per class where its labels name
    the classes (by label or scientific name), else class-agnostic only (any box of it
    against any confirmed box), as a camera-trap detector's "animal" is no species.
    Blocking: run it in a thread."""
    try:
        raw = run_champion_detector(champion, [f.key for f in test], read)
    except ValueError as exc:
        return {"not_scored": f"{champion.name} {champion.version}: {exc}"}
    manifest = champion.manifest
    wanted = {c: i for i, c in enumerate(classes)}
    mapping = [
        wanted.get(label.label, wanted.get(label.scientific_name or "", -1))
        for label in manifest.labels
    ]
    truth = [_in_pixels(f, size) for f, (_, _, _, size) in zip(test, raw, strict=True)]
    detections = [
        _champion_kept(boxes, scores, labels, manifest) for boxes, scores, labels, _ in raw
    ]
    figures: dict[str, Any] = {
        "class_agnostic": _agnostic(truth, detections, manifest.thresholds.default)
    }
    if any(m >= 0 for m in mapping):
        named = []
        for d in detections:
            own = np.asarray([mapping[k] if k < len(mapping) else -1 for k in d.labels])
            keep = own >= 0
            named.append(FrameDetections(d.boxes[keep], d.scores[keep], own[keep]))
        thresholds = {
            c: manifest.threshold_for(label.label)
            for label, m in zip(manifest.labels, mapping, strict=True)
            if m >= 0
            for c in [classes[m]]
        }
        figures.update(evaluate_detector(truth, named, classes, thresholds))
    return figures


def _champion_kept(
    boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, manifest: Any
) -> FrameDetections:
    """Its detections after its own NMS and cap, at a low floor (mAP needs the ranking)."""
    import torch
    from torchvision.ops import batched_nms

    keep = scores >= 0.01
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    order = batched_nms(
        torch.from_numpy(boxes).float(),
        torch.from_numpy(scores).float(),
        torch.from_numpy(labels),
        manifest.nms_iou,
    )[: manifest.max_detections].numpy()
    return FrameDetections(boxes[order], scores[order], labels[order])


def _agnostic(
    truth: Sequence[Frame], found: Sequence[FrameDetections], threshold: float
) -> dict[str, Any]:
    """mAP with every class as one: did it box the animals at all."""
    one = [Frame(f.boxes, np.zeros_like(f.labels), f.location_id) for f in truth]
    any_box = [FrameDetections(d.boxes, d.scores, np.zeros_like(d.labels)) for d in found]
    figures = evaluate_detector(one, any_box, ["animal"], {"animal": threshold})
    return {k: figures[k] for k in ("map_50", "map_50_95", "precision", "recall")}
