"""The deployments and media of a Camtrap DP package the project already has (rules and their
order: ``exchange.matching``)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.camtrapdp.fields import parse
from wildlens.catalogue.exchange.matching import Matches, MatchRule, overlaps, platform_id
from wildlens.catalogue.models import Deployment, Media

__all__ = ["Existing", "file_name", "find_existing"]

Row = dict[str, str]


@dataclass
class Existing:
    """The project's records the package's rows are, by the package's ids."""

    deployments: dict[str, Deployment]
    media: dict[str, Media]
    matches: Matches = field(default_factory=Matches)

    def rule(self, table: str, source_id: str) -> MatchRule | None:
        """The rule that matched the row, None when it was found by its external id or not
        at all."""
        return next(
            (m.rule for m in self.matches.found if m.table == table and m.source_id == source_id),
            None,
        )


def file_name(row: Row) -> str:
    """The medium's file name: its own column, else the last part of a relative path."""
    if row.get("fileName"):
        return row["fileName"]
    path = row.get("filePath") or ""
    return "" if "://" in path else PurePosixPath(path).name


def _times(row: Row) -> tuple[datetime | None, datetime | None]:
    return parse(row["deploymentStart"], "datetime"), parse(row["deploymentEnd"], "datetime")


async def _by_platform_ids(
    session: AsyncSession,
    model: type[Deployment] | type[Media],
    project_id: uuid.UUID,
    sources: Iterable[str],
) -> dict[str, Deployment | Media]:
    ids = {source: platform_id(source) for source in sources}
    found = await repository.by_platform_id(
        session, model, project_id, (i for i in ids.values() if i is not None)
    )
    return {source: found[i] for source, i in ids.items() if i in found}


async def find_existing(
    session: AsyncSession,
    project_id: uuid.UUID,
    deployment_rows: list[Row],
    media_rows: list[Row],
    hashes: dict[str, str],
) -> Existing:
    """What the project already has of the package (``hashes``: media id → content hash of the
    files it brings)."""
    existing = Existing(
        await repository.by_external_id_at_once(
            session, Deployment, project_id, {r["deploymentID"] for r in deployment_rows}
        ),
        await repository.by_external_id(
            session, Media, project_id, (r["mediaID"] for r in media_rows)
        ),
    )
    matches = existing.matches
    for known_deployment in existing.deployments.values():
        matches.claim(known_deployment)
    for known_medium in existing.media.values():
        matches.claim(known_medium)

    # The platform's own ids: a package it exported, coming back.
    missing = [
        r["deploymentID"] for r in deployment_rows if r["deploymentID"] not in existing.deployments
    ]
    for source, own in (await _by_platform_ids(session, Deployment, project_id, missing)).items():
        if isinstance(own, Deployment) and matches.free(own, source):
            existing.deployments[source] = own
            matches.add("deployments", own, source, MatchRule.PLATFORM_ID)
    missing = [r["mediaID"] for r in media_rows if r["mediaID"] not in existing.media]
    for source, own in (await _by_platform_ids(session, Media, project_id, missing)).items():
        if isinstance(own, Media) and matches.free(own, source):
            existing.media[source] = own
            matches.add("media", own, source, MatchRule.PLATFORM_ID)

    # The same bytes are the same photo, wherever it was filed.
    by_hash = await repository.media_with_hashes(session, project_id, hashes.values())
    holding: dict[str, set[uuid.UUID]] = defaultdict(set)
    for row in media_rows:
        source = row["mediaID"]
        found = existing.media.get(source)
        if found is None and source in hashes:
            found = matches.first_free(by_hash.get(hashes[source], []), source)
            if found is not None:
                existing.media[source] = found
                matches.add("media", found, source, MatchRule.CONTENT_HASH)
        if found is not None and found.deployment_id is not None:
            holding[row["deploymentID"]].add(found.deployment_id)

    # A deployment: the same camera out at the same time, else the one holding its photos.
    project_deployments = await repository.deployments_by_start(session, project_id)
    serials = {d.id: d.serial for d in await repository.project_devices(session, project_id)}
    for row in deployment_rows:
        source = row["deploymentID"]
        if source in existing.deployments:
            continue
        start, end = _times(row)
        during = [d for d in project_deployments if overlaps(d, start, end)]
        camera = row.get("cameraID") or ""
        candidates = (
            (
                MatchRule.CAMERA_AND_SPAN,
                [d for d in during if camera and serials.get(d.device_id) == camera],
            ),
            (MatchRule.SAME_MEDIA, [d for d in during if d.id in holding[source]]),
        )
        for rule, deployments in candidates:
            found_deployment = matches.first_free(deployments, source)
            if found_deployment is not None:
                existing.deployments[source] = found_deployment
                matches.add("deployments", found_deployment, source, rule)
                break

    # Without the bytes: the photo of that deployment, taken then, under that name.
    rest = [
        r
        for r in media_rows
        if r["mediaID"] not in existing.media and r["deploymentID"] in existing.deployments
    ]
    named = await repository.media_named_in(
        session,
        {existing.deployments[r["deploymentID"]].id for r in rest},
        {file_name(r) for r in rest} - {""},
    )
    index: dict[tuple[uuid.UUID | None, datetime | None, str], list[Media]] = defaultdict(list)
    for medium in named:
        index[(medium.deployment_id, medium.captured_at, medium.filename)].append(medium)
    for row in rest:
        source = row["mediaID"]
        key = (
            existing.deployments[row["deploymentID"]].id,
            parse(row["timestamp"], "datetime"),
            file_name(row),
        )
        found = matches.first_free(index.get(key, []), source)
        if found is not None:
            existing.media[source] = found
            matches.add("media", found, source, MatchRule.DEPLOYMENT_TIME_NAME)
    return existing
