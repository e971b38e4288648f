"""Detector results: model runs, their observations and ranked classifications."""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange.repository.external_ids import CHUNK
from wildlens.catalogue.models import ModelRun, Observation, RankedClassifications

__all__ = [
    "machine_boxes_without_run",
    "media_with_results",
    "observations_of_runs",
    "ranked_labels",
    "runs_of_media",
]


async def runs_of_media(session: AsyncSession, media_ids: list[uuid.UUID]) -> list[ModelRun]:
    return list(await session.exec(select(ModelRun).where(col(ModelRun.media_id).in_(media_ids))))


async def observations_of_runs(
    session: AsyncSession, run_ids: list[uuid.UUID]
) -> list[Observation]:
    """The runs' observations, most confident first."""
    return list(
        await session.exec(
            select(Observation)
            .where(col(Observation.model_run_id).in_(run_ids))
            .order_by(col(Observation.confidence).desc(), col(Observation.id))
        )
    )


async def machine_boxes_without_run(
    session: AsyncSession, project_id: uuid.UUID
) -> list[Observation]:
    """The project's machine detections no model run of the catalogue holds (those an imported
    Camtrap DP or COCO file gave): media-level, with a box; most confident first."""
    return list(
        await session.exec(
            select(Observation)
            .where(
                Observation.project_id == project_id,
                col(Observation.model_run_id).is_(None),
                col(Observation.media_id).is_not(None),
                col(Observation.bbox_x).is_not(None),
                Observation.classification_method == "machine",
            )
            .order_by(col(Observation.confidence).desc(), col(Observation.id))
        )
    )


async def ranked_labels(
    session: AsyncSession, project_id: uuid.UUID
) -> dict[uuid.UUID, list[list[Any]]]:
    """The ranked classifications of the project's observations, by observation."""
    return {
        r.observation_id: r.labels
        for r in await session.exec(
            select(RankedClassifications)
            .join(Observation, col(Observation.id) == col(RankedClassifications.observation_id))
            .where(Observation.project_id == project_id)
        )
    }


async def media_with_results(
    session: AsyncSession, media_ids: list[uuid.UUID], model_name: str, model_version: str
) -> set[object]:
    """Those of ``media_ids`` that this model version has a run for."""
    done: set[object] = set()
    for start in range(0, len(media_ids), CHUNK):
        done.update(
            run.media_id
            for run in await session.exec(
                select(ModelRun).where(
                    col(ModelRun.media_id).in_(media_ids[start : start + CHUNK]),
                    ModelRun.model_name == model_name,
                    ModelRun.model_version == model_version,
                )
            )
        )
    return done
