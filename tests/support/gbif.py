"""A local stand-in for GBIF's species match API (``GET /v1/species/match``), which these
machines cannot reach: it answers from a dict of names in the shape GBIF's v1 API answers, or
as told (an error status, garbage, or nothing for a while), and records every request."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# The higher ranks of a match answer, top down, as (rank, name, key).
Lineage = list[tuple[str, str, int]]

ANIMALIA: Lineage = [("kingdom", "Animalia", 1), ("phylum", "Chordata", 44)]
MAMMALIA: Lineage = [*ANIMALIA, ("class", "Mammalia", 359), ("order", "Carnivora", 732)]
CANIDAE: Lineage = [*MAMMALIA, ("family", "Canidae", 9701)]
FELIDAE: Lineage = [*MAMMALIA, ("family", "Felidae", 9703)]
ANATIDAE: Lineage = [
    *ANIMALIA,
    ("class", "Aves", 212),
    ("order", "Anseriformes", 1549),
    ("family", "Anatidae", 2986),
]


def accepted(
    name: str, key: int, rank: str, lineage: Lineage, authorship: str = "", confidence: int = 98
) -> dict[str, Any]:
    """GBIF's answer for an accepted name matched exactly; ``lineage`` ends above it unless
    the name is below species (then it ends with its species)."""
    answer: dict[str, Any] = {
        "usageKey": key,
        "scientificName": f"{name} {authorship}".strip(),
        "canonicalName": name,
        "rank": rank.upper(),
        "status": "ACCEPTED",
        "confidence": confidence,
        "matchType": "EXACT",
        "synonym": False,
    }
    for higher_rank, higher, higher_key in lineage:
        answer[higher_rank] = higher
        answer[f"{higher_rank}Key"] = higher_key
    if rank in ("kingdom", "phylum", "class", "order", "family", "genus", "species"):
        answer[rank], answer[f"{rank}Key"] = name, key
    return answer


def synonym(name: str, key: int, of: dict[str, Any], authorship: str = "") -> dict[str, Any]:
    """GBIF's answer for ``name``, a synonym of the accepted taxon answered as ``of``: the
    classification is the accepted taxon's."""
    answer = {k: v for k, v in of.items() if k != "usageKey"}
    answer.update(
        usageKey=key,
        acceptedUsageKey=of["usageKey"],
        scientificName=f"{name} {authorship}".strip(),
        canonicalName=name,
        status="SYNONYM",
        synonym=True,
    )
    return answer


def inexact(match_type: str, instead: dict[str, Any], confidence: int = 94) -> dict[str, Any]:
    """A FUZZY or HIGHERRANK answer: GBIF's whole answer for the taxon it matched ``instead``
    (a similar name, or a higher taxon), told apart only by its match type."""
    return {**instead, "matchType": match_type, "confidence": confidence}


NONE = {
    "matchType": "NONE",
    "confidence": 100,
    "synonym": False,
    "note": "No match because of too little confidence",
}


@dataclass
class GbifStandIn:
    url: str = ""
    # Name → the answer for it (NONE for any other name).
    matches: dict[str, dict[str, Any]] = field(default_factory=dict)
    # When set, every request is answered with this status (and a small error body)…
    status: int = 200
    # …or with these bytes as the body, whatever the name.
    raw: bytes | None = None
    # When set, a request waits until this is set (or 30 s), then answers as usual.
    hold: threading.Event | None = None
    requests: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def asked(self) -> list[str]:
        """The names asked, in order."""
        with self.lock:
            return [r.get("name", "") for r in self.requests]

    def record(self, query: dict[str, str]) -> None:
        with self.lock:
            self.requests.append(query)

    def answer(self, query: dict[str, str]) -> tuple[int, bytes]:
        with self.lock:
            status, raw = self.status, self.raw
            found = self.matches.get(query.get("name", ""), NONE)
        if status != 200:
            return status, b'{"error": "Internal Server Error"}'
        if raw is not None:
            return 200, raw
        return 200, json.dumps(found).encode()


@contextmanager
def gbif_stand_in() -> Iterator[GbifStandIn]:
    """The stand-in on a free loopback port; its ``url`` is the API's root (``…/v1``)."""
    state = GbifStandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != "/v1/species/match":
                self.send_error(404)
                return
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            state.record(query)
            if state.hold is not None:
                state.hold.wait(timeout=30)
            status, body = state.answer(query)
            # A client that stopped waiting (its timeout, or an answer too large to read)
            # has hung up: that is what those tests are about, not a failure of the stand-in.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    # A short poll, so that shutting it down after each test is quick.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        if state.hold is not None:
            state.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
