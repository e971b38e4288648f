"""Who sees what: sensitive species' coordinates generalised, media with people hidden.

Every response and every export that carries coordinates goes through a ``PrivacyView``:
``await request_view(session, access)`` inside a request, then ``view.place(...)`` for each
point and ``view.visible_media()`` / ``view.shows_people(...)`` for what a volunteer must not
see. An export job takes ``await export_view(session, project_id, precise=..., public=...)``
(the export's ``ExportCoordinates`` wraps it for every format). ``generalise`` is the grid
itself, for code that only needs the arithmetic. ``media_files`` says which file of a medium
a caller gets (the original only with ``precise_locations``, else the GPS-free display copy),
and ``export_readable`` whether a caller may read an export made for someone else.

The settings' routes follow api → service → repository → ``wildlens.catalogue.models``; the
view sits beside the service and reads through the same repository.
"""

from wildlens.catalogue.privacy.files import (
    DISPLAY_CONTENT_TYPE,
    FileChoice,
    MediaFile,
    Withheld,
    media_files,
)
from wildlens.catalogue.privacy.grid import Place, generalise
from wildlens.catalogue.privacy.view import (
    PRECISE_LOCATIONS,
    PrivacyView,
    export_readable,
    export_view,
    request_view,
    sees_people,
)

__all__ = [
    "DISPLAY_CONTENT_TYPE",
    "PRECISE_LOCATIONS",
    "FileChoice",
    "MediaFile",
    "Place",
    "PrivacyView",
    "Withheld",
    "export_readable",
    "export_view",
    "generalise",
    "media_files",
    "request_view",
    "sees_people",
]
