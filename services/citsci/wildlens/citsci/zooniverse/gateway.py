"""The Panoptes API (Zooniverse) as the citizen-science service uses it, through panoptes-client.

panoptes-client is synchronous and keeps its current client per thread, so every call runs in
a worker thread that enters the client first, one call at a time. Two things are done here
rather than left to the library:

* a subject's image is PUT by us to the URL Panoptes signs for it: the library uploads in a
  thread pool whose failures it never reports, and a subject whose bytes never arrived would
  show volunteers an empty frame;
* classification exports are written to a file as they arrive, never held whole.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
from panoptes_client import Classification, Panoptes, Subject, SubjectSet, Workflow
from panoptes_client.panoptes import PanoptesAPIException

from wildlens.citsci.settings import ZooniverseSettings
from wildlens.common.errors import PayloadTooLarge, WildlensError

__all__ = ["NewSubject", "Zooniverse", "ZooniverseError"]

T = TypeVar("T")


class ZooniverseError(WildlensError):
    """Zooniverse refused a call or could not be reached; the message says which and why."""

    status_code = 502


@dataclass(frozen=True, slots=True)
class NewSubject:
    """A subject Panoptes created, with the URL each of its images is to be PUT to, in the
    order of its locations."""

    id: str
    upload_urls: tuple[str, ...]


class Zooniverse:
    """One Zooniverse account's calls, each in a worker thread."""

    def __init__(self, settings: ZooniverseSettings) -> None:
        if not settings.configured:
            raise ZooniverseError(
                "no Zooniverse credentials: set WILDLENS_CITSCI__ZOONIVERSE__CLIENT_ID and "
                "__CLIENT_SECRET (or __USERNAME and __PASSWORD)"
            )
        self._settings = settings
        self._client: Panoptes | None = None
        self._http = requests.Session()
        # panoptes-client's session and token refresh are not made for concurrent use.
        self._lock = threading.Lock()

    async def _call(self, work: Callable[[], T]) -> T:
        def run() -> T:
            with self._lock:
                try:
                    with self._connected():
                        return work()
                except PanoptesAPIException as e:
                    raise ZooniverseError(f"Zooniverse refused the call: {e}") from e
                except requests.RequestException as e:
                    raise ZooniverseError(f"Zooniverse could not be reached: {e}") from e

        return await asyncio.to_thread(run)

    def _connected(self) -> Panoptes:
        if self._client is None:
            s = self._settings
            self._client = Panoptes(
                endpoint=s.endpoint.rstrip("/"),
                client_id=s.client_id,
                client_secret=s.client_secret.get_secret_value() if s.client_secret else None,
                username=s.username,
                password=s.password.get_secret_value() if s.password else None,
            )
        return self._client

    async def create_subject_set(self, project_id: str, name: str) -> str:
        """A new subject set in the Zooniverse project; answers its id."""

        def work() -> str:
            subject_set = SubjectSet()
            subject_set.links.project = project_id
            subject_set.display_name = name
            subject_set.save()
            return str(subject_set.id)

        return await self._call(work)

    async def link_to_workflow(self, workflow_id: str, subject_set_id: str) -> None:
        """The workflow shows the set's subjects to its volunteers."""

        def work() -> None:
            Workflow.http_post(
                f"{workflow_id}/links/subject_sets",
                json={"subject_sets": [subject_set_id]},
                retry=True,
            )

        await self._call(work)

    async def create_subject(
        self, project_id: str, metadata: dict[str, Any], content_types: list[str]
    ) -> NewSubject:
        """A new subject with one location per image (the frames volunteers see, in order),
        each still to be uploaded (``upload``)."""

        def work() -> NewSubject:
            subject = Subject()
            subject.links.project = project_id
            # The content types alone: Panoptes answers with a signed URL per location to PUT
            # the bytes to (never a link into our storage, which volunteers' browsers could
            # not reach).
            subject.locations = list(content_types)
            subject.metadata = metadata
            subject.save()
            locations = subject.raw.get("locations") or []
            urls = tuple(str(next(iter(loc.values()), "")) for loc in locations)
            if len(urls) != len(content_types) or not all(urls):
                raise ZooniverseError(
                    f"Zooniverse gave subject {subject.id} {len(urls)} upload URLs for "
                    f"{len(content_types)} images"
                )
            return NewSubject(str(subject.id), urls)

        return await self._call(work)

    async def upload(self, subject: NewSubject, frame: int, data: bytes, content_type: str) -> None:
        """PUT the subject's ``frame``-th image; tried ``upload_attempts`` times.

        Raises:
            ZooniverseError: every try failed (the subject stays without that image).
        """

        def work() -> None:
            last = ""
            for _ in range(self._settings.upload_attempts):
                try:
                    response = self._http.put(
                        subject.upload_urls[frame],
                        data=data,
                        headers={"Content-Type": content_type, "x-ms-blob-type": "BlockBlob"},
                        timeout=self._settings.upload_timeout_s,
                    )
                except requests.RequestException as e:
                    last = str(e)
                    continue
                if response.status_code < 300:
                    return
                last = f"HTTP {response.status_code}"
            raise ZooniverseError(
                f"image {frame + 1} of subject {subject.id} was not uploaded: {last}"
            )

        await self._call(work)

    async def add_subjects(self, subject_set_id: str, subject_ids: list[str]) -> None:
        """The subjects join the subject set (those already in it are left as they are)."""

        def work() -> None:
            SubjectSet.http_post(
                f"{subject_set_id}/links/subjects", json={"subjects": subject_ids}, retry=True
            )

        await self._call(work)

    async def delete_subject(self, subject_id: str) -> None:
        """Remove a subject (one whose image never arrived); gone already is fine."""

        def work() -> None:
            response = self._connected().http_request("DELETE", f"/subjects/{subject_id}")
            if response.status_code >= 400 and response.status_code != 404:
                raise ZooniverseError(
                    f"subject {subject_id} could not be deleted: HTTP {response.status_code}"
                )

        await self._call(work)

    async def retire(self, workflow_id: str, subject_ids: list[str], reason: str) -> None:
        """Volunteers of the workflow see these subjects no more."""

        def work() -> None:
            Workflow(workflow_id).retire_subjects(subject_ids, reason=reason)

        await self._call(work)

    async def classification_export(self, workflow_id: str, path: Path, *, generate: bool) -> int:
        """Write the workflow's classification export (Zooniverse's CSV) to ``path``; answers
        its size. ``generate`` asks for a fresh one and waits for it (``export_timeout_s``).
        Written as it arrives: exports of large projects run to gigabytes.

        Raises:
            PayloadTooLarge: it is larger than ``export_max_bytes`` (what was written of it
                is left in ``path``, for the caller to throw away).
        """
        limit = self._settings.export_max_bytes

        def too_large() -> PayloadTooLarge:
            return PayloadTooLarge(
                f"the classification export is larger than {limit} bytes "
                "(WILDLENS_CITSCI__ZOONIVERSE__EXPORT_MAX_BYTES): nothing of it was stored"
            )

        def work() -> int:
            export = Workflow(workflow_id).get_export(
                "classifications",
                generate=generate,
                wait=generate,
                wait_timeout=self._settings.export_timeout_s,
            )
            with export:
                export.raise_for_status()
                declared = export.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise too_large()
                written = 0
                with path.open("wb") as out:
                    for chunk in export.iter_content(chunk_size=1 << 20):
                        written += len(chunk)
                        if written > limit:
                            raise too_large()
                        out.write(chunk)
            return written

        return await self._call(work)

    async def classifications_since(
        self, project_id: str, last_id: str | None
    ) -> list[dict[str, Any]]:
        """The project's classifications after ``last_id`` (all, without one), oldest first,
        read a page at a time.

        Raises:
            PayloadTooLarge: more than ``recent_max_classifications`` are listed (reading
                stops there).
        """
        limit = self._settings.recent_max_classifications

        def work() -> list[dict[str, Any]]:
            params: dict[str, Any] = {"scope": "project", "project_id": project_id}
            if last_id:
                params["last_id"] = last_id
            found: list[dict[str, Any]] = []
            for c in Classification.where(**params):
                if len(found) >= limit:
                    raise PayloadTooLarge(
                        f"more than {limit} classifications are new since the last pull "
                        "(WILDLENS_CITSCI__ZOONIVERSE__RECENT_MAX_CLASSIFICATIONS): nothing "
                        "was stored; pull the classification export instead"
                    )
                found.append(dict(c.raw))
            return found

        return await self._call(work)
