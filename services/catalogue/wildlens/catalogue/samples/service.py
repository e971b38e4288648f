"""Samples as the caller may see them: positions generalised where a sensitive taxon was seen
(for callers without ``precise_locations``), objects with people left out of the counts where
the caller may not see them; a profile's images per depth bin replaced whole."""

from __future__ import annotations

import math
import uuid
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import ProjectAccess
from wildlens.catalogue.models import Sample
from wildlens.catalogue.objects.samples import (
    project_sample,
    sample_rows,
    samples_page,
    sensitive_samples,
)
from wildlens.catalogue.privacy import PrivacyView, request_view
from wildlens.catalogue.samples.schemas import (
    AcquisitionPublic,
    DepthBin,
    DepthBins,
    ProcessPublic,
    SamplePublic,
)
from wildlens.common.errors import NotFound
from wildlens.common.http import Page, PageParams

__all__ = ["generalised_fields", "get_sample", "list_samples", "put_depth_bins", "sample_place"]


def sample_place(
    view: PrivacyView, latitude: float | None, longitude: float | None, *, sensitive: bool
) -> tuple[float | None, float | None]:
    """A sample's position as this audience may see it."""
    if latitude is None or longitude is None:
        return latitude, longitude
    place = view.place(latitude, longitude, sensitive=sensitive)
    return place.latitude, place.longitude


def generalised_fields(view: PrivacyView, fields: dict[str, Any]) -> dict[str, Any]:
    """A sensitive sample's free ``lat``/``lon`` columns as this audience may see them: at the
    grid cell, or left out where they are not numbers (a TSV that typed them as text would
    otherwise pass the exact place on)."""
    fields = dict(fields)
    lat, lon = _number(fields.get("lat")), _number(fields.get("lon"))
    if lat is not None and lon is not None:
        fields["lat"], fields["lon"] = sample_place(view, lat, lon, sensitive=True)
    else:
        for key in ("lat", "lon"):
            fields.pop(key, None)
    return fields


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _public(
    sample: Sample, extra: dict[str, Any], view: PrivacyView, sensitive: bool
) -> SamplePublic:
    hidden = sensitive and not view.precise
    fields = generalised_fields(view, sample.fields) if hidden else dict(sample.fields)
    latitude, longitude = sample_place(view, sample.latitude, sample.longitude, sensitive=hidden)
    depth_min, depth_max = extra["depth"]
    return SamplePublic(
        id=sample.id,
        project_id=sample.project_id,
        external_id=sample.external_id,
        latitude=latitude,
        longitude=longitude,
        coordinates_generalised=hidden,
        fields=fields,
        objects=extra["objects"],
        depth_min=depth_min,
        depth_max=depth_max,
        depth_bins=[DepthBin.model_validate(b) for b in sample.depth_bins],
        acquisitions=[
            AcquisitionPublic(id=a.id, external_id=a.external_id, fields=a.fields, objects=n)
            for a, n in extra["acquisitions"]
        ],
        processes=[
            ProcessPublic(id=p.id, external_id=p.external_id, fields=p.fields)
            for p in extra["processes"]
        ],
    )


async def _publics(
    session: AsyncSession, access: ProjectAccess, samples: list[Sample]
) -> list[SamplePublic]:
    view = await request_view(session, access)
    sensitive = (
        await sensitive_samples(session, access.project.id, view.sensitive_observation())
        if view.generalises
        else set()
    )
    extra = await sample_rows(session, samples, view.visible_media())
    return [_public(s, extra[s.id], view, s.id in sensitive) for s in samples]


async def list_samples(
    session: AsyncSession, access: ProjectAccess, page: PageParams
) -> Page[SamplePublic]:
    samples, next_cursor = await samples_page(session, access.project.id, page)
    return Page(items=await _publics(session, access, samples), next_cursor=next_cursor)


async def _sample(session: AsyncSession, project_id: uuid.UUID, sample_id: uuid.UUID) -> Sample:
    sample = await project_sample(session, project_id, sample_id)
    if sample is None:
        raise NotFound(f"sample {sample_id} not found")
    return sample


async def get_sample(
    session: AsyncSession, access: ProjectAccess, sample_id: uuid.UUID
) -> SamplePublic:
    sample = await _sample(session, access.project.id, sample_id)
    return (await _publics(session, access, [sample]))[0]


async def put_depth_bins(
    session: AsyncSession, access: ProjectAccess, sample_id: uuid.UUID, body: DepthBins
) -> SamplePublic:
    """The sample's images per depth bin, replacing those it had."""
    sample = await _sample(session, access.project.id, sample_id)
    sample.depth_bins = [b.model_dump() for b in body.bins]
    session.add(sample)
    await session.flush()
    return (await _publics(session, access, [sample]))[0]
