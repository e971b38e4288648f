"""An app factory uvicorn can import by name, for ``wildlens serve --workers N``: each worker
process builds its own app from the environment."""

from __future__ import annotations

import os

from fastapi import FastAPI

from wildlens.common.http.app import create_app
from wildlens.common.service.spec import discover_services, platform_settings
from wildlens.common.telemetry import configure_logging

__all__ = ["from_environment"]


def from_environment() -> FastAPI:
    """The app of the service named by ``WILDLENS_SERVICE``, configured from the environment."""
    service = os.environ.get("WILDLENS_SERVICE")
    if not service:
        raise RuntimeError("WILDLENS_SERVICE names the service to serve")
    specs = discover_services([service])
    settings = platform_settings(specs)()
    configure_logging(settings.log_level, json=settings.log_json)
    return create_app(settings, specs)
