"""Options shared by commands that act on a running platform (uploads, imports, exports), and
the sentences they answer with when the platform cannot be reached or the token is wrong."""

from __future__ import annotations

from typing import Annotated

import httpx
import typer
from rich.console import Console

__all__ = [
    "DEFAULT_URL",
    "TOKEN_REFUSED_HINT",
    "TokenOption",
    "UrlOption",
    "bearer_headers",
    "failure_message",
]

DEFAULT_URL = "http://127.0.0.1:8080"

UrlOption = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="WILDLENS_URL",
        help="The platform's address (make run PORT=8081 serves on http://127.0.0.1:8081).",
    ),
]
TokenOption = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="WILDLENS_TOKEN",
        help="A bearer token (wildlens token prints one next to a local platform).",
    ),
]

# `wildlens token` signs with the key in the platform's data folder, so it has to run there.
_HOW_TO_GET_ONE = (
    "Where the platform keeps its data (after make run: the repository's root), "
    "wildlens token --role admin prints one."
)
TOKEN_REFUSED_HINT = (
    "Get a new token where the platform keeps its data with wildlens token --role admin "
    "(it lives an hour; --ttl SECONDS for longer)."
)


def bearer_headers(token: str) -> dict[str, str]:
    """The Authorization header that carries ``token``.

    Args:
        token: what ``--token`` or ``WILDLENS_TOKEN`` gave.

    Raises:
        typer.Exit: with status 2, after one sentence on standard error saying how to get a
            token, when there is none or it cannot be one (it has spaces or line breaks).
    """
    token = token.strip()
    if not token:
        problem = "No token: pass --token or set WILDLENS_TOKEN."
    elif any(character.isspace() for character in token):
        problem = "The token has a space or a line break in it: give the token alone."
    else:
        return {"Authorization": f"Bearer {token}"}
    Console(stderr=True).print(
        f"{problem} {_HOW_TO_GET_ONE}", style="red", markup=False, soft_wrap=True
    )
    raise typer.Exit(2)


def failure_message(error: Exception, url: str) -> str:
    """What to tell a person about ``error``, raised while talking to the platform at ``url``:
    where the platform did not answer, where it is looked for and how to point elsewhere."""
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        return (
            f"Cannot reach the platform at {url} ({error}). Is it running? Give its address "
            "with --url or WILDLENS_URL (after make run PORT=8081: http://127.0.0.1:8081)."
        )
    return str(error) or type(error).__name__
