"""A local stand-in for the Panoptes API (Zooniverse), recording every call it is sent.

It answers the calls panoptes-client makes for subject sets, subjects (with signed upload
URLs of its own, where the image bytes are PUT), links, retirement, classification exports
and classification listings, the way Panoptes shapes them. Tests read ``calls``,
``uploads``, ``retired`` and ``set_members``, can make uploads and retirements fail
(``fail_uploads``, ``fail_retirements``), and serve a workflow's classification export made
from rows in Zooniverse's real CSV layout (``serve_export``, ``ExportRow``).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

__all__ = ["EXPORT_COLUMNS", "ExportRow", "PanoptesStandIn", "export_csv", "panoptes_standin"]

# Zooniverse's classification export, column for column.
EXPORT_COLUMNS = (
    "classification_id",
    "user_name",
    "user_id",
    "user_ip",
    "workflow_id",
    "workflow_name",
    "workflow_version",
    "created_at",
    "gold_standard",
    "expert",
    "metadata",
    "annotations",
    "subject_data",
    "subject_ids",
)


@dataclass
class ExportRow:
    """One classification as Zooniverse exports it; ``user_id`` None for a volunteer who was
    not logged in (Zooniverse then names them ``not-logged-in-<hash>``)."""

    classification_id: int
    subject_id: str
    workflow_id: str
    annotations: list[dict[str, Any]]
    user_name: str
    user_id: int | None
    user_ip: str
    created_at: str
    subject_data: dict[str, Any] = field(default_factory=dict)
    workflow_version: str = "12.4"

    def cells(self) -> list[str]:
        metadata = {
            "source": "api",
            "session": "e5d0c7a9f1",
            "viewport": {"width": 1280, "height": 800},
            "started_at": self.created_at,
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
            "user_language": "en",
            "subject_dimensions": [{"clientWidth": 640, "clientHeight": 480}],
        }
        return [
            str(self.classification_id),
            self.user_name,
            "" if self.user_id is None else str(self.user_id),
            self.user_ip,
            self.workflow_id,
            "Pond survey",
            self.workflow_version,
            self.created_at,
            "",
            "",
            json.dumps(metadata),
            json.dumps(self.annotations),
            json.dumps({self.subject_id: {"retired": None, **self.subject_data}}),
            self.subject_id,
        ]

    def resource(self) -> dict[str, Any]:
        """The classification as Panoptes' API lists it (``/classifications/project``)."""
        when = self.created_at.replace(" UTC", "Z").replace(" ", "T")
        return {
            "id": str(self.classification_id),
            "annotations": self.annotations,
            "created_at": when,
            "updated_at": when,
            "completed": True,
            "gold_standard": None,
            "expert_classifier": None,
            "metadata": {
                "session": f"s{self.user_name}",
                "workflow_version": self.workflow_version,
            },
            "href": f"/classifications/{self.classification_id}",
            "links": {
                "project": "4242",
                "workflow": self.workflow_id,
                "user": None if self.user_id is None else str(self.user_id),
                "subjects": [self.subject_id],
            },
        }


def export_csv(rows: Iterable[ExportRow]) -> bytes:
    """The rows as Zooniverse writes a classification export (CRLF lines, JSON columns)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow(row.cells())
    return out.getvalue().encode()


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str | None


@dataclass
class PanoptesStandIn:
    url: str = ""
    calls: list[Call] = field(default_factory=list)
    subject_sets: dict[str, dict[str, Any]] = field(default_factory=dict)
    subjects: dict[str, dict[str, Any]] = field(default_factory=dict)
    # subject id -> the bytes PUT to its first location's upload URL, and their content type
    uploads: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    # subject id -> what was PUT to each of its locations, by location (0-based)
    location_uploads: dict[str, dict[int, tuple[bytes, str]]] = field(default_factory=dict)
    set_members: dict[str, list[str]] = field(default_factory=dict)
    workflow_sets: dict[str, list[str]] = field(default_factory=dict)
    retired: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # workflow id -> classification export CSV served
    exports: dict[str, bytes] = field(default_factory=dict)
    classifications: list[dict[str, Any]] = field(default_factory=list)
    # How many more PUTs of each subject's image answer 504 (the n-th subject made: 1-based)
    fail_uploads: dict[int, int] = field(default_factory=dict)
    # The same for one location of a subject: (n-th subject made, location) -> 504s left
    fail_location_uploads: dict[tuple[int, int], int] = field(default_factory=dict)
    # Classifications per page of the listing, and the pages served
    listing_page_size: int = 100
    listing_pages: int = 0
    # How many more retirement calls answer 503
    fail_retirements: int = 0
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1001))
    _made: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def serve_export(self, workflow_id: str, rows: Iterable[ExportRow]) -> None:
        """The workflow's classification export is now made of these rows."""
        with self._lock:
            self.exports[workflow_id] = export_csv(rows)

    def api_calls(self, method: str, pattern: str) -> list[Call]:
        """The calls to the API (``/api`` and what ``pattern`` matches after it)."""
        return [
            c for c in self.calls if c.method == method and re.fullmatch("/api" + pattern, c.path)
        ]

    # --- the handlers -------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        if method == "POST" and path == "/oauth/token":
            return 200, {
                "access_token": "stand-in-token",
                "token_type": "Bearer",
                "expires_in": 7200,
            }
        if method == "PUT" and (m := re.fullmatch(r"/uploads/(\d+)/(\d+)", path)):
            return self._upload(m.group(1), int(m.group(2)), body)
        if method == "GET" and (m := re.fullmatch(r"/exports/(\d+)\.csv", path)):
            return 200, self.exports.get(m.group(1), b"")
        if not path.startswith("/api/"):
            return 404, {"errors": [{"message": f"no route {path}"}]}
        return self._api(method, path[4:], query, body)

    def _api(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[int, Any]:
        if method == "POST" and path == "/subject_sets":
            new = body["subject_sets"]
            sid = str(next(self._ids))
            raw = {
                "id": sid,
                "display_name": new.get("display_name"),
                "metadata": new.get("metadata") or {},
                "links": {"project": str(new["links"]["project"]), "subjects": []},
            }
            self.subject_sets[sid] = raw
            self.set_members[sid] = []
            return 201, {"subject_sets": [raw]}
        if method == "POST" and (m := re.fullmatch(r"/subject_sets/(\d+)/links/subjects", path)):
            if m.group(1) not in self.subject_sets:
                return 404, {"errors": [{"message": "no such subject set"}]}
            for s in body["subjects"]:
                if str(s) not in self.set_members[m.group(1)]:
                    self.set_members[m.group(1)].append(str(s))
            return 204, None
        if method == "POST" and (m := re.fullmatch(r"/workflows/(\d+)/links/subject_sets", path)):
            linked = self.workflow_sets.setdefault(m.group(1), [])
            linked += [str(s) for s in body["subject_sets"] if str(s) not in linked]
            return 204, None
        if method == "GET" and (m := re.fullmatch(r"/workflows/(\d+)", path)):
            wid = m.group(1)
            raw = {
                "id": wid,
                "display_name": f"Workflow {wid}",
                "links": {"subject_sets": self.workflow_sets.get(wid, [])},
            }
            return 200, {"workflows": [raw]}
        if method == "GET" and (m := re.fullmatch(r"/subject_sets/(\d+)", path)):
            found = self.subject_sets.get(m.group(1))
            if found is None:
                return 404, {"errors": [{"message": "no such subject set"}]}
            return 200, {
                "subject_sets": [
                    {**found, "links": {**found["links"], "subjects": self.set_members[m.group(1)]}}
                ]
            }
        if method == "POST" and path == "/subjects":
            return self._new_subject(body["subjects"])
        if method == "DELETE" and (m := re.fullmatch(r"/subjects/(\d+)", path)):
            if self.subjects.pop(m.group(1), None) is None:
                return 404, {"errors": [{"message": "no such subject"}]}
            self.uploads.pop(m.group(1), None)
            self.location_uploads.pop(m.group(1), None)
            return 204, None
        if method == "POST" and (m := re.fullmatch(r"/workflows/(\d+)/retired_subjects", path)):
            if self.fail_retirements > 0:
                self.fail_retirements -= 1
                return 503, {"errors": [{"message": "Service Unavailable"}]}
            reason = body.get("retirement_reason", "other")
            self.retired.setdefault(m.group(1), []).extend(
                (str(s), reason) for s in body["subject_ids"]
            )
            return 204, None
        if (m := re.fullmatch(r"/workflows/(\d+)/classifications_export", path)) and method in (
            "GET",
            "POST",
        ):
            src = f"{self.url}/exports/{m.group(1)}.csv"
            return 200, {"media": [{"src": src, "metadata": {"state": "ready"}}]}
        if method == "GET" and path == "/classifications/project":
            return self._listing(query)
        return 404, {"errors": [{"message": f"no route {method} {path}"}]}

    def _listing(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        """Classifications after ``last_id``, a page of ``listing_page_size`` at a time, with
        the next page's address as Panoptes gives it."""
        last = int(query.get("last_id", ["0"])[0])
        page = int(query.get("page", ["1"])[0])
        after = [c for c in self.classifications if int(c["id"]) > last]
        size = self.listing_page_size
        count = max(1, -(-len(after) // size))
        meta: dict[str, Any] = {"page": page, "page_count": count, "count": len(after)}
        if page < count:
            rest = {k: v[0] for k, v in query.items() if k != "page"}
            meta["next_href"] = f"/classifications/project?{urlencode({**rest, 'page': page + 1})}"
        self.listing_pages += 1
        items = after[(page - 1) * size : page * size]
        return 200, {"classifications": items, "meta": {"classifications": meta}}

    def _new_subject(self, new: dict[str, Any]) -> tuple[int, Any]:
        sid = str(next(self._ids))
        self._made += 1
        locations = [
            {content_type: f"{self.url}/uploads/{sid}/{n}"}
            for n, content_type in enumerate(new.get("locations", []))
        ]
        raw = {
            "id": sid,
            "locations": locations,
            "metadata": new.get("metadata") or {},
            "links": {"project": str(new["links"]["project"])},
            "made": self._made,
        }
        self.subjects[sid] = raw
        return 201, {"subjects": [raw]}

    def _upload(self, sid: str, location: int, body: tuple[bytes, str]) -> tuple[int, Any]:
        subject = self.subjects.get(sid)
        if subject is None or location >= len(subject["locations"]):
            return 404, b""
        made = subject["made"]
        left = self.fail_uploads.get(made, 0)
        if left > 0:
            self.fail_uploads[made] = left - 1
            return 504, b"Gateway Time-out"
        left = self.fail_location_uploads.get((made, location), 0)
        if left > 0:
            self.fail_location_uploads[(made, location)] = left - 1
            return 504, b"Gateway Time-out"
        self.location_uploads.setdefault(sid, {})[location] = body
        if location == 0:
            self.uploads[sid] = body
        return 201, b""


class _Handler(BaseHTTPRequestHandler):
    standin: PanoptesStandIn

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        size = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(size) if size else b""
        content_type = self.headers.get("Content-Type", "")
        body: Any
        if self.command == "PUT" and parts.path.startswith("/uploads/"):
            body = (raw, content_type)
        elif content_type.startswith("application/json") and raw:
            body = json.loads(raw)
        elif raw:
            body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        else:
            body = None
        query = parse_qs(parts.query)
        s = self.standin
        with s._lock:
            s.calls.append(
                Call(self.command, parts.path, query, body, self.headers.get("Authorization"))
            )
            status, answer = s.handle(self.command, parts.path, query, body)
        data = (
            answer
            if isinstance(answer, bytes)
            else b""
            if answer is None
            else json.dumps(answer).encode()
        )
        self.send_response(status)
        if data and not isinstance(answer, bytes):
            self.send_header("Content-Type", "application/json")
            self.send_header("ETag", '"stand-in"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


@contextmanager
def panoptes_standin() -> Iterator[PanoptesStandIn]:
    """A stand-in Panoptes on a free loopback port, for the block."""
    standin = PanoptesStandIn()
    handler = type("Handler", (_Handler,), {"standin": standin})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    standin.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
