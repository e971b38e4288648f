"""The platform's API as the training commands call it: a client with the caller's token, and
refusals turned into one-line messages."""

from __future__ import annotations

from typing import Any

import httpx
import typer
from rich.console import Console

__all__ = ["TIMEOUT", "CommandFailed", "check", "client", "console"]

# Messages name files, labels and errors as they are (no markup), and commands to copy whole
# (no wrapping).
console = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)
# Uploading a detector of hundreds of megabytes takes a while on a field station's link.
TIMEOUT = httpx.Timeout(30.0, write=1800.0, read=600.0)


class CommandFailed(Exception):
    """The platform refused; the message says why."""


def check(response: httpx.Response, *expected: int) -> Any:
    """The answer's JSON when its status is one of ``expected``; :class:`CommandFailed`
    with the platform's reason otherwise."""
    if response.status_code in expected:
        return response.json()
    try:
        body = response.json()
    except ValueError:
        raise CommandFailed(f"{response.status_code}: {response.text[:300]}") from None
    message = f"{response.status_code} {body.get('error', '')}: {body.get('detail', body)}"
    for field in body.get("fields") or []:
        where = ".".join(str(p) for p in field.get("location", []))
        message += f"\n  {where}: {field.get('message', '')}"
    raise CommandFailed(message)


def client(url: str, token: str) -> httpx.Client:
    if not token:
        console.print("a token is needed: --token or WILDLENS_TOKEN", style="red")
        raise typer.Exit(2)
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
