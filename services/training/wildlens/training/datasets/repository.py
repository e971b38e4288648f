"""Every query of datasets."""

from __future__ import annotations

import uuid

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.training.models import Dataset

__all__ = ["add", "get"]


async def get(session: AsyncSession, dataset_id: uuid.UUID) -> Dataset | None:
    return await session.get(Dataset, dataset_id)


async def add(session: AsyncSession, dataset: Dataset) -> Dataset:
    session.add(dataset)
    await session.flush()
    return dataset
