"""Who sees what in one project: the per-request (or per-export) privacy view.

A place is sensitive once a sensitive taxon (or any taxon below it) has been observed there:
a location where it was seen, with all its deployments and media, and a medium showing it
even where the medium is tied to no location. Generalising only the records of the sensitive
species would not hide anything, since the location's other records give the same spot away.
For an audience without the ``precise_locations`` permission every coordinate of a sensitive
place is moved to the centre of its grid cell (see ``grid``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import ProjectAccess
from wildlens.catalogue.models import DEFAULT_PRECISION, Media, ProjectPrivacy
from wildlens.catalogue.privacy import repository
from wildlens.catalogue.privacy.grid import Place, generalise
from wildlens.common.auth import ROLES

__all__ = [
    "PRECISE_LOCATIONS",
    "PrivacyView",
    "export_readable",
    "export_view",
    "request_view",
    "sees_people",
]

PRECISE_LOCATIONS = "precise_locations"
# Roles that do not see media with people when the project hides them: volunteers, and
# viewers, who are trusted with even less.
PEOPLE_HIDDEN_UP_TO = ROLES["volunteer"]
# Raw metadata keys that hold the camera's own GPS fix.
GPS_KEYS = ("gps_latitude", "gps_longitude", "gps_altitude")


@dataclass(frozen=True)
class PrivacyView:
    project_id: uuid.UUID
    # Sees exact coordinates of sensitive places.
    precise: bool
    # Decimal degrees sensitive coordinates are generalised to.
    precision: float
    # The sensitive taxa and every taxon below them, and their scientific names (machine
    # labels carry only the name).
    sensitive_taxa: frozenset[uuid.UUID]
    sensitive_names: frozenset[str]
    # Media with people are left out for this audience.
    hides_people: bool

    @property
    def generalises(self) -> bool:
        """Whether anything is generalised for this audience at all."""
        return not self.precise and bool(self.sensitive_taxa or self.sensitive_names)

    def is_sensitive(self, taxon_id: uuid.UUID | None, scientific_name: str) -> bool:
        """Whether an observation with this taxon (or, without one, this name) is sensitive."""
        if taxon_id is not None:
            return taxon_id in self.sensitive_taxa
        return bool(scientific_name) and scientific_name in self.sensitive_names

    def sensitive_observation(self) -> ColumnElement[bool]:
        """SQL: the ``Observation`` row is of a sensitive taxon."""
        return repository.sensitive_observation(self.sensitive_taxa, self.sensitive_names)

    async def sensitive_locations(self, session: AsyncSession) -> set[uuid.UUID]:
        """The project's locations where a sensitive taxon was observed (empty when nothing
        is generalised for this audience)."""
        if not self.generalises:
            return set()
        return await repository.locations_seen(
            session, self.project_id, self.sensitive_observation()
        )

    async def sensitive_media(
        self, session: AsyncSession, media_ids: Iterable[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Those of ``media_ids`` that show a sensitive taxon themselves."""
        if not self.generalises:
            return set()
        return await repository.media_showing(session, media_ids, self.sensitive_observation())

    async def sensitive_media_of(self, session: AsyncSession, media: list[Media]) -> set[uuid.UUID]:
        """Those of ``media`` whose place is sensitive: they show a sensitive taxon, or were
        taken at a location where one was seen."""
        if not self.generalises or not media:
            return set()
        locations = await self.sensitive_locations(session)
        found = await self.sensitive_media(session, (m.id for m in media))
        deployments = {m.deployment_id for m in media if m.deployment_id is not None}
        if locations and deployments:
            at_sensitive = await repository.deployments_at(session, deployments, locations)
            found |= {m.id for m in media if m.deployment_id in at_sensitive}
        return found

    def place(
        self,
        latitude: float,
        longitude: float,
        *,
        sensitive: bool,
        uncertainty_m: int | None = None,
    ) -> Place:
        """The point as this audience sees it."""
        if sensitive and not self.precise:
            return generalise(latitude, longitude, self.precision, uncertainty_m)
        return Place(latitude, longitude, uncertainty_m, None)

    def raw_metadata(self, metadata: dict[str, Any], *, sensitive: bool) -> dict[str, Any]:
        """The camera's metadata without its GPS fix where the place must not be exact."""
        if sensitive and not self.precise:
            return {k: v for k, v in metadata.items() if k not in GPS_KEYS}
        return metadata

    def media_with_people(self) -> Any:
        """SQL: ``SELECT media_id`` of the project's media with a human observation."""
        return repository.media_with_people(self.project_id)

    def visible_media(self) -> list[ColumnElement[bool]]:
        """SQL conditions on ``Media`` leaving out what this audience must not see."""
        if not self.hides_people:
            return []
        # Event-level observations have no medium (a NULL id) and stay.
        return [or_(col(Media.id).is_(None), col(Media.id).not_in(self.media_with_people()))]

    async def shows_people(self, session: AsyncSession, media_id: uuid.UUID) -> bool:
        """Whether this medium is hidden from this audience for showing people."""
        if not self.hides_people:
            return False
        return await repository.shows_people(session, self.project_id, media_id)


def sees_people(role: str) -> bool:
    """Whether ``role`` sees media with people even where the project hides them."""
    return ROLES[role] > PEOPLE_HIDDEN_UP_TO


def export_readable(view: PrivacyView, *, precise: bool, with_people: bool) -> bool:
    """Whether the audience of ``view`` may read an export made to contain exact places
    (``precise``) and media with people (``with_people``): only if it sees all of that itself.

    An export is a file: once downloaded, nothing in it can be generalised or hidden any more,
    so it goes to no one who sees less than the caller it was made for.
    """
    if precise and not view.precise:
        return False
    return not (with_people and view.hides_people)


async def _settings(session: AsyncSession, project_id: uuid.UUID) -> ProjectPrivacy:
    return await repository.settings(session, project_id) or ProjectPrivacy(project_id=project_id)


async def sensitive_subtree(
    session: AsyncSession, project_id: uuid.UUID
) -> tuple[frozenset[uuid.UUID], frozenset[str]]:
    """The project's sensitive taxa with every taxon below them, and their names."""
    ids = await repository.sensitive_subtree_ids(session, project_id)
    names = await repository.scientific_names(session, ids)
    return frozenset(ids), frozenset(names)


async def request_view(session: AsyncSession, access: ProjectAccess) -> PrivacyView:
    """What the caller of this request may see in the project."""
    project_id = access.project.id
    settings = await _settings(session, project_id)
    taxa, names = await sensitive_subtree(session, project_id)
    return PrivacyView(
        project_id=project_id,
        precise=access.principal.has_permission(str(project_id), PRECISE_LOCATIONS),
        precision=settings.coordinate_precision or DEFAULT_PRECISION,
        sensitive_taxa=taxa,
        sensitive_names=names,
        hides_people=settings.hide_people and not sees_people(access.role),
    )


async def export_view(
    session: AsyncSession, project_id: uuid.UUID, *, precise: bool = False, public: bool = True
) -> PrivacyView:
    """What an export may contain: exact coordinates only when made for someone with
    ``precise_locations`` (``precise``), and media with people only when it is not for
    publication (``public``). The defaults are the safe ones: a public, generalised export."""
    settings = await _settings(session, project_id)
    taxa, names = await sensitive_subtree(session, project_id)
    return PrivacyView(
        project_id=project_id,
        precise=precise,
        precision=settings.coordinate_precision or DEFAULT_PRECISION,
        sensitive_taxa=taxa,
        sensitive_names=names,
        hides_people=settings.hide_people and public,
    )
