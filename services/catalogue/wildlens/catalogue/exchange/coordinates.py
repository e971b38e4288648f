"""What an export may show: coordinates exact or generalised, media with people or not.

Every exporter asks :class:`ExportCoordinates` for the coordinates it writes and which media
it leaves out, so that the privacy rules (catalogue ``privacy``: a location where a sensitive
taxon was seen is generalised for anyone without ``precise_locations``; media with people are
left out of public exports when the project says so) hold in every format.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.models import Location, Project
from wildlens.catalogue.privacy import Place, PrivacyView, export_view

__all__ = ["ExportCoordinates", "Place", "export_coordinates"]


@dataclass(frozen=True)
class ExportCoordinates:
    view: PrivacyView
    sensitive_locations: frozenset[uuid.UUID]
    # Media left out of this export (those with people, when the project hides them).
    hidden_media: frozenset[uuid.UUID]

    def place(self, location: Location, uncertainty_m: int | None = None) -> Place:
        """Where the export says ``location`` is."""
        return self.view.place(
            location.latitude,
            location.longitude,
            sensitive=location.id in self.sensitive_locations,
            uncertainty_m=uncertainty_m,
        )

    def shows(self, media_id: uuid.UUID | None) -> bool:
        return media_id is None or media_id not in self.hidden_media


async def export_coordinates(
    session: AsyncSession, project: Project, *, precise: bool, public: bool
) -> ExportCoordinates:
    """The rules for an export of ``project`` made for a caller who may (``precise``) or may
    not see sensitive places exactly, for publication (``public``) or for the project."""
    view = await export_view(session, project.id, precise=precise, public=public)
    hidden: set[uuid.UUID] = set()
    if view.hides_people:
        rows = await repository.media_ids(session, view.media_with_people())
        hidden = {r if isinstance(r, uuid.UUID) else uuid.UUID(str(r)) for r in rows if r}
    return ExportCoordinates(
        view, frozenset(await view.sensitive_locations(session)), frozenset(hidden)
    )
