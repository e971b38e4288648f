"""Options shared by commands that act on a running platform (uploads, imports, exports)."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["DEFAULT_URL", "TokenOption", "UrlOption"]

DEFAULT_URL = "http://127.0.0.1:8080"

UrlOption = Annotated[
    str,
    typer.Option("--url", envvar="WILDLENS_URL", help="The platform's address."),
]
TokenOption = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="WILDLENS_TOKEN",
        help="A bearer token (wildlens token prints one next to a local platform).",
    ),
]
