"""``wildlens upload --wait``: after an upload, wait until the catalogue has recorded every file
and list what it recorded (the medium, its deployment and capture time), so that what comes
next (a look at the media, a script) does not meet media the platform does not show yet.

The catalogue records a medium a moment after ingest accepted it (``GET /v1/media/{id}`` is
404 until then). A card of thousands takes longer than one photo, so the wait gives up only
when nothing more has been recorded for a while, not after a fixed time.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Console

__all__ = ["NotRecorded", "Recorded", "WaitFailed", "print_recorded", "wait_until_recorded"]

_POLL_S = 0.25
# Longer than the catalogue takes to catch up with a card after an outage of its consumer.
STALL_S = 60.0


@dataclass(frozen=True)
class Recorded:
    name: str
    medium: dict[str, Any]


class WaitFailed(Exception):
    """The platform answered something else than the medium or "not yet"."""


class NotRecorded(WaitFailed):
    """Nothing more was recorded for a while; ``missing`` names the files still waited for."""

    def __init__(self, missing: list[str], stall_s: float) -> None:
        super().__init__(
            f"{len(missing)} files not recorded by the catalogue after {stall_s:.0f} s "
            f"without progress: {', '.join(missing[:10])}"
        )
        self.missing = missing


def _fetch(api: httpx.Client, media_id: str) -> dict[str, Any] | None:
    response = api.get(f"/v1/media/{media_id}")
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise WaitFailed(f"GET /v1/media/{media_id}: {response.status_code} {response.text[:300]}")
    medium: dict[str, Any] = response.json()
    return medium


def wait_until_recorded(
    api: httpx.Client,
    media: dict[str, str],
    *,
    workers: int = 4,
    stall_s: float = STALL_S,
) -> list[Recorded]:
    """Each file of ``media`` (name: media id) with its medium as the catalogue recorded it.

    Args:
        api: a client for the platform's API, with its base URL and token.
        media: the files to wait for, by name, in the order to list them.
        workers: requests at once.
        stall_s: how long to go on while nothing more is recorded.

    Raises:
        NotRecorded: some were still not recorded after ``stall_s`` without progress.
        WaitFailed: the platform refused to show a medium.
    """
    found: dict[str, dict[str, Any]] = {}
    progressed = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while pending := sorted(set(media.values()) - found.keys()):
            answers = list(pool.map(lambda media_id: (media_id, _fetch(api, media_id)), pending))
            recorded = {media_id: medium for media_id, medium in answers if medium is not None}
            if recorded:
                found.update(recorded)
                progressed = time.monotonic()
                continue
            if time.monotonic() - progressed > stall_s:
                missing = [name for name, media_id in media.items() if media_id not in found]
                raise NotRecorded(missing, stall_s)
            time.sleep(_POLL_S)
    return [Recorded(name, found[media_id]) for name, media_id in media.items()]


def print_recorded(console: Console, recorded: list[Recorded]) -> None:
    """One line per file: its medium's id, deployment, capture time (UTC) and status.

    Plain aligned columns rather than a table, so that ids are never folded or cut on a narrow
    terminal or in a pipe."""
    header = ("file", "medium", "deployment", "captured (UTC)", "status")
    rows = [header]
    for item in recorded:
        medium = item.medium
        deployment = medium.get("deployment_id") or (
            f"none: {medium.get('resolution_issue') or 'no deployment covers it'}"
        )
        rows.append(
            (
                item.name,
                str(medium["id"]),
                str(deployment),
                str(medium.get("captured_at") or "unknown"),
                str(medium.get("status", "")),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    console.print(f"Recorded by the catalogue: {len(recorded)} files", highlight=False)
    for row in rows:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        console.print(line.rstrip(), markup=False, highlight=False, soft_wrap=True)
