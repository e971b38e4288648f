"""The training run the platform installs: confirmed labels in, an evaluated classifier bundle
out.

1. The dataset: built from the catalogue's API with the job's label spec and seed, under an id
   of the job's own, so that a job resumed by another worker trains on the same crops.
2. Training in a thread (torch), each epoch checkpointed under ``checkpoints/<job>/`` and
   reported to the job; a resumed job continues from its last epoch.
3. Evaluation on the test split: the temperature fitted on validation, the spatiotemporal prior
   fitted on the training split only, and the model now serving scored on the same crops.
4. Export: ONNX checked against torch over the whole test split, the bundle with its
   temperature, and a model card; the worker registers it as a candidate.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from wildlens.common.bundles import LabelSpec as BundleLabel
from wildlens.common.errors import Invalid
from wildlens.common.prior import Capture, apply_prior, fit_prior
from wildlens.common.service.context import ServiceContext
from wildlens.training.datasets import service as datasets
from wildlens.training.datasets.build import BuildRequest
from wildlens.training.datasets.build import Sample as DatasetSample
from wildlens.training.datasets.catalogue import CatalogueReader
from wildlens.training.datasets.label_spec import parse_label_spec
from wildlens.training.datasets.records import Ancestor
from wildlens.training.evaluation import (
    EvaluationReport,
    Lineage,
    Samples,
    align_classes,
    evaluate,
    headline,
    plots,
    softmax,
)
from wildlens.training.jobs.champion import Champion, find_champion, score_champion
from wildlens.training.jobs.run import JobSpec, Progress, TrainedModel
from wildlens.training.jobs.schemas import FileWeights, ModelWeights, ObjectWeights
from wildlens.training.jobs.store_bridge import StoreCheckpoints, StoreReader, remove_checkpoints
from wildlens.training.registry import service as registry

__all__ = ["ClassifierRun", "dataset_id_for"]

log = structlog.get_logger(__name__)

_DATASETS = uuid.UUID("6b1f0c51-5d0e-4a43-9a63-0e2f1f7a4d10")
_RANKS = ("species", "genus", "family")
_PROGRESS_TIMEOUT_S = 120.0


def dataset_id_for(job_id: uuid.UUID) -> uuid.UUID:
    """The dataset a job trains on: the same for every attempt at the job."""
    return uuid.uuid5(_DATASETS, str(job_id))


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _lineage(samples: Sequence[DatasetSample], chains: dict[str, tuple[Ancestor, ...]]) -> Lineage:
    """The class's species, genus and family where all its samples agree on them."""
    agreed: dict[str, str | None] = {}
    for rank in _RANKS:
        names = {
            next((a.scientific_name for a in chains.get(s.taxon_id, ()) if a.rank == rank), None)
            for s in samples
        }
        agreed[rank] = names.pop() if len(names) == 1 else None
    return Lineage(**agreed)


def _bundle_label(name: str, samples: Sequence[DatasetSample]) -> BundleLabel:
    # The catalogue links a label to its taxon by scientific name where the class is one taxon.
    names = {s.scientific_name for s in samples if s.scientific_name}
    return BundleLabel(label=name, scientific_name=names.pop() if len(names) == 1 else None)


class ClassifierRun:
    """Dataset → training → evaluation → export, with the service's store, database and
    client of the catalogue's API."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _reader(self) -> CatalogueReader:
        return CatalogueReader(lambda: self.ctx.service_clients.client("catalogue"))

    async def run(self, job: JobSpec, progress: Progress) -> TrainedModel:
        # The engine needs torch: imported here, so the API starts without it.
        from wildlens.training import engine

        loop = asyncio.get_running_loop()
        store = self.ctx.store
        reader = self._reader()
        dataset_id, classes, samples = await self._dataset(job, reader, progress)
        index = {name: i for i, name in enumerate(classes)}
        by_class: dict[str, list[DatasetSample]] = {c: [] for c in classes}
        for sample in samples:
            by_class[sample.class_name].append(sample)
        test = [s for s in samples if s.split == "test"]
        validation = [s for s in samples if s.split == "validation"]
        if not test:
            raise Invalid(
                f"dataset {dataset_id} has no test split: its samples come from too few "
                "locations to hold some back; add images from more locations, or group by event"
            )

        read = StoreReader(store, loop)
        hp = job.hyperparameters
        config = engine.TrainingConfig(
            architecture=job.architecture,
            input_size=hp.image_size,
            epochs=hp.epochs,
            batch_size=max(2, hp.batch_size),
            learning_rate=hp.learning_rate,
            patience=hp.patience,
            balance=hp.balance,
            seed=job.seed,
        )
        as_engine = [engine.Sample(s.crop_key, index[s.class_name], s.split) for s in samples]  # type: ignore[arg-type]

        def on_progress(report: engine.Progress) -> None:
            if report.event != "epoch":
                return
            figures = report.validation.as_dict() if report.validation else None
            line = f"epoch {report.epoch}/{report.epochs}: loss {report.loss:.4f}" + (
                f", validation macro-F1 {report.validation.macro_f1:.3f}"
                if report.validation
                else ""
            )
            asyncio.run_coroutine_threadsafe(
                self._epoch(progress, report.epoch, report.loss, figures, report.eta_seconds, line),
                loop,
            ).result(_PROGRESS_TIMEOUT_S)

        start, parent = await self._weights(job)
        trainer = engine.Trainer(
            config,
            len(classes),
            as_engine,
            read=read,
            weights=start,
            checkpoints=StoreCheckpoints(store, loop, job.id),
            on_progress=on_progress,
            should_stop=lambda: progress.cancelled,
        )
        if job.attempt > 1:
            await progress.log(f"attempt {job.attempt}: resuming from the last checkpoint")
        result = await asyncio.to_thread(trainer.fit)
        await progress.log(
            f"trained {result.epochs_run} epochs in {result.seconds:.0f} s; best epoch "
            f"{result.best_epoch}" + (", stopped early" if result.stopped_early else "")
        )

        norm = config.normalisation
        test_logits, validation_logits = await asyncio.to_thread(
            self._logits, result.model, norm, as_engine, read
        )
        champion = await self._champion(job)
        champion_probabilities = None
        if champion is not None:
            await progress.log(f"scoring the serving model {champion.name} {champion.version}")
            served = await asyncio.to_thread(
                score_champion, champion, [s.crop_key for s in test], read
            )
            champion_probabilities = align_classes(served, self._names(champion, classes), classes)

        prior = fit_prior(
            (s.class_name, s.location_id, _when(s.captured_at))
            for s in samples
            if s.split == "train"
        )
        captures = [Capture(s.location_id, _when(s.captured_at)) for s in test]
        chains = await reader.lineages({s.taxon_id for s in samples if s.taxon_id})
        probabilities = softmax(test_logits)
        report = evaluate(
            Samples(
                [index[s.class_name] for s in test],
                classes,
                [s.location_id or None for s in test],
                [s.event_id or None for s in test],
                [_lineage(by_class[c], chains) for c in classes],
            ),
            probabilities,
            probabilities_with_prior=apply_prior(probabilities, classes, prior, captures),
            validation_logits=validation_logits if validation else None,
            validation_labels=[index[s.class_name] for s in validation] if validation else None,
            champion=champion_probabilities,
            champion_with_prior=(
                None
                if champion_probabilities is None
                else apply_prior(champion_probabilities, classes, prior, captures)
            ),
        )
        temperature = report.challenger.calibration.temperature or 1.0
        figures = {
            k: float(v)
            for k, v in headline(report).items()
            if isinstance(v, int | float) and not isinstance(v, bool)
        }
        await progress.log(
            f"test top-1 {report.challenger.top1:.3f}, macro-F1 {report.challenger.macro_f1:.3f}"
            f", temperature {temperature:.3f}"
        )

        name = f"classifier-{job.project_id.hex[:8]}"
        version = f"job-{job.id.hex[:12]}"
        counts = self._counts(samples)
        exported = await asyncio.to_thread(
            engine.export_bundle,
            result.model,
            job.workdir / "bundle",
            [a for a in as_engine if a.split == "test"],
            name=name,
            version=version,
            labels=[_bundle_label(c, by_class[c]) for c in classes],
            norm=norm,
            read=read,
            temperature=temperature,
            metrics=figures,
            training={
                "job_id": str(job.id),
                "dataset_id": str(dataset_id),
                "architecture": job.architecture,
                "epochs_run": result.epochs_run,
                "best_epoch": result.best_epoch,
                "seed": job.seed,
                "base_weights": result.base_weights.source,
            },
        )
        await progress.log(
            f"exported to ONNX; largest difference from torch "
            f"{exported.parity.max_difference:.2e} over {exported.parity.images} test images"
        )
        card = engine.ModelCard(
            name=name,
            version=version,
            architecture=job.architecture,
            dataset_id=str(dataset_id),
            classes=classes,
            counts=counts,
            metrics=figures,
            base_weights=result.base_weights.source,
            training={
                "epochs_run": result.epochs_run,
                "best_epoch": result.best_epoch,
                "input_size": hp.image_size,
                "temperature": temperature,
                "onnx_max_difference": exported.parity.max_difference,
            },
        )
        document = self._document(report, card, champion, dataset_id)
        await remove_checkpoints(store, job.id)
        return TrainedModel(
            bundle_dir=job.workdir / "bundle",
            dataset_id=dataset_id,
            report=document,
            plots={file.removesuffix(".png"): png for file, png in plots(report).items()},
            metrics=figures,
            parent_model_id=parent,
            weights=await asyncio.to_thread(self._state_dict, result.model),
        )

    async def _epoch(
        self,
        progress: Progress,
        epoch: int,
        loss: float,
        figures: dict[str, Any] | None,
        eta_s: float | None,
        line: str,
    ) -> None:
        await progress.epoch(epoch, loss=loss, metrics=figures, eta_s=eta_s)
        await progress.log(line)

    async def _dataset(
        self, job: JobSpec, reader: CatalogueReader, progress: Progress
    ) -> tuple[uuid.UUID, list[str], list[DatasetSample]]:
        dataset_id = dataset_id_for(job.id)
        async with self.ctx.database.transaction() as session:
            existing = await datasets.find(session, dataset_id)
        if existing is None:
            await progress.log("building the dataset from confirmed labels")
            request = BuildRequest(
                project_id=str(job.project_id),
                spec=parse_label_spec(job.label_spec),
                seed=job.seed,
                frames=job.kind == "detector",
            )
            await datasets.build_and_record(
                self.ctx.database,
                self.ctx.store,
                reader,
                request,
                created_by=job.created_by,
                dataset_id=dataset_id,
            )
            async with self.ctx.database.transaction() as session:
                existing = await datasets.find(session, dataset_id)
            assert existing is not None
        classes, samples = await datasets.load_samples(self.ctx.store, existing)
        what = "boxes" if job.kind == "detector" else "crops"
        sizes = {split: sum(1 for s in samples if s.split == split) for split in datasets.SPLITS}
        await progress.log(
            f"dataset {dataset_id}: {len(samples)} {what} of {len(classes)} classes "
            f"({', '.join(f'{n} {split}' for split, n in sizes.items())})"
        )
        return dataset_id, classes, samples

    async def _weights(self, job: JobSpec) -> tuple[Path | bytes | None, uuid.UUID | None]:
        """What training starts from, and the model it goes on from (its parent)."""
        weights = job.base_weights
        if isinstance(weights, FileWeights):
            return job.weights_path, None
        if isinstance(weights, ObjectWeights):
            return await self.ctx.store.get_bytes(weights.key), None
        if isinstance(weights, ModelWeights):
            async with self.ctx.database.transaction() as session:
                parent = await registry.trained_weights(
                    session, self.ctx.store, job.project_id, weights.model_id
                )
            return await self.ctx.store.get_bytes(registry.weights_key(parent)), parent.id
        return None, None

    async def _champion(self, job: JobSpec) -> Champion | None:
        async with self.ctx.database.transaction() as session:
            return await find_champion(session, self.ctx.store, job.project_id)

    @staticmethod
    def _names(champion: Champion, classes: Sequence[str]) -> list[str]:
        """The champion's labels as this dataset's class names where they name the same taxon."""
        wanted = set(classes)
        return [
            label.label
            if label.label in wanted or not label.scientific_name
            else label.scientific_name
            for label in champion.manifest.labels
        ]

    @staticmethod
    def _state_dict(model: Any) -> bytes:
        """The trained weights as a torch state dict (tensors only: loaded without unpickling
        code)."""
        import io

        import torch

        buffer = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, buffer)
        return buffer.getvalue()

    @staticmethod
    def _counts(samples: Sequence[DatasetSample]) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for s in samples:
            split = counts.setdefault(s.split, {})
            split[s.class_name] = split.get(s.class_name, 0) + 1
        return counts

    @staticmethod
    def _logits(
        model: Any, norm: Any, samples: Sequence[Any], read: StoreReader
    ) -> tuple[np.ndarray, np.ndarray]:
        """The model's logits on the test and validation splits. Blocking (torch)."""
        import torch
        from torch.utils.data import DataLoader

        from wildlens.training import engine

        device = next(model.parameters()).device
        model.eval()

        def logits(split: str) -> np.ndarray:
            chosen = [s for s in samples if s.split == split]
            if not chosen:
                return np.zeros((0, 0))
            loader = DataLoader(
                engine.CropDataset(chosen, engine.eval_transform(norm), read), batch_size=64
            )
            rows = []
            with torch.inference_mode():
                for images, _ in loader:
                    rows.append(model(images.to(device)).float().cpu().numpy())
            return np.concatenate(rows).astype(np.float64)

        return logits("test"), logits("validation")

    @staticmethod
    def _document(
        report: EvaluationReport,
        card: Any,
        champion: Champion | None,
        dataset_id: uuid.UUID,
    ) -> dict[str, Any]:
        document = report.model_dump(mode="json")
        document["dataset_id"] = str(dataset_id)
        document["champion_model"] = (
            None
            if champion is None
            else {
                "id": str(champion.model_id),
                "name": champion.name,
                "version": champion.version,
            }
        )
        document["model_card"] = card.as_json()
        document["model_card_markdown"] = card.markdown()
        return document
