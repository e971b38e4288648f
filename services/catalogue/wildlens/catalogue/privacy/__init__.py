"""Who sees what: sensitive species' coordinates generalised, media with people hidden.

Every response and every export that carries coordinates goes through a ``PrivacyView``:
``await request_view(session, access)`` inside a request, then ``view.place(...)`` for each
point and ``view.visible_media()`` / ``view.shows_people(...)`` for what a volunteer must not
see. An export job takes ``await export_view(session, project_id, precise=..., public=...)``
(the export's ``ExportCoordinates`` wraps it for every format). ``generalise`` is the grid
itself, for code that only needs the arithmetic.

The settings' routes follow api → service → repository → ``wildlens.catalogue.models``; the
view sits beside the service and reads through the same repository.
"""

from wildlens.catalogue.privacy.grid import Place, generalise
from wildlens.catalogue.privacy.view import PrivacyView, export_view, request_view

__all__ = [
    "Place",
    "PrivacyView",
    "export_view",
    "generalise",
    "request_view",
]
