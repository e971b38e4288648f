"""``create_app``: one FastAPI app for one service (``wildlens serve``) or all of them
(``wildlens up``), with probes, metrics and error rendering."""

from __future__ import annotations

import gc
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from wildlens.common.errors import Forbidden, WildlensError
from wildlens.common.http.body_limit import BodyLimit, document_body_limits, reads_own_body
from wildlens.common.http.deps import bearer_scheme, get_principal
from wildlens.common.http.errors import (
    document_unparsable_bodies,
    error_response,
    install_error_handlers,
)
from wildlens.common.http.middleware import AnswerWhenCancelled, RequestTelemetry
from wildlens.common.service.platform import Platform
from wildlens.common.service.spec import ServiceSpec
from wildlens.common.settings import Settings
from wildlens.common.storage import LocalStore, signed_objects_router

__all__ = ["create_app"]


# The bearer token /metrics reads where it asks for one (embedded mode, from another machine).
MetricsCaller = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def _on_this_machine(request: Request) -> bool:
    """The client is on loopback: the embedded platform's own machine (a field laptop)."""
    if request.client is None:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def _operation_id(route: APIRoute) -> str:
    # The endpoint function's name: stable and readable for generated clients.
    return route.name


def create_app(
    settings: Settings, specs: list[ServiceSpec], *, title: str | None = None
) -> FastAPI:
    platform = Platform(settings, specs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await platform.start(migrate=settings.migrate_on_start)
        # What exists once the platform is up (modules, mappers, schemas, models: millions
        # of objects) lives as long as the process. Frozen, the cyclic garbage collector
        # stops walking it at every full collection, which under a steady stream of events
        # took a tenth to a fifth of the consumers' time. (No collection first: it costs a
        # second in a large process, and what little garbage is frozen with the rest is
        # released when the platform stops.)
        gc.freeze()
        try:
            yield
        finally:
            # What was frozen can be collected again once the platform has stopped (tests and
            # embedded use start and stop several in one process).
            gc.unfreeze()
            await platform.stop()

    names = [s.name for s in specs]
    # /docs and /redoc load their scripts from the platform itself, not a CDN: a laptop in the
    # field and a cluster without egress both show them.
    app = FastAPIOffline(
        title=title or ("Wildlens" if len(specs) > 1 else f"Wildlens {names[0]}"),
        version="0.1.0",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        static_url="/docs-assets",
    )
    app.state.platform = platform
    app.state.revoked_tokens = platform.revocations
    platform.app = app
    install_error_handlers(app)
    generate_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_unparsable_bodies(generate_openapi())
        return app.openapi_schema

    # FastAPI's documented way to change the generated document: replace ``app.openapi``.
    app.openapi = openapi  # type: ignore[method-assign]

    app.add_middleware(BodyLimit, settings=platform.settings)
    app.add_middleware(AnswerWhenCancelled)
    app.add_middleware(RequestTelemetry, service="+".join(names))

    @app.get("/healthz", tags=["operations"], include_in_schema=True)
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        responses={503: {"description": "Unready: `checks` says which backend does not answer"}},
    )
    async def readyz(request: Request) -> Response:
        """Database, bus and storage answer; service facts (such as "no model configured")
        are reported without making the instance unready."""
        # Read from the request, not closed over: FastAPI keeps the endpoints it has seen in a
        # process-wide cache, and an endpoint holding its platform would keep every platform a
        # process ever started (tests start hundreds) alive until exit.
        platform: Platform = request.app.state.platform
        checks: dict[str, Any] = {}
        ready = True

        async def check(name: str, probe: Any) -> None:
            nonlocal ready
            try:
                await probe()
                checks[name] = "ok"
            except WildlensError as exc:
                ready = False
                checks[name] = exc.detail
            except Exception as exc:
                ready = False
                checks[name] = f"{type(exc).__name__}: {exc}"

        await check("bus", platform.bus.ping)
        await check("storage", platform.store.ping)
        services: dict[str, Any] = {}
        for ctx in platform.contexts.values():
            if ctx.db is not None:
                await check(f"database:{ctx.name}", ctx.db.ping)
            if ctx.spec.readiness is not None:
                services[ctx.name] = await ctx.spec.readiness(ctx)
        body = {"status": "ready" if ready else "unready", "checks": checks, "services": services}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={
            200: {"content": {CONTENT_TYPE_LATEST.split(";")[0]: {}}},
            401: error_response("Embedded mode, a client not on this machine, and no token"),
            403: error_response("Embedded mode, and the token is not a platform admin's"),
        },
    )
    async def metrics(request: Request, caller: MetricsCaller) -> Response:
        """Prometheus metrics. In distributed mode for any client (the chart's NetworkPolicy
        decides who reaches them); in embedded mode for clients on the same machine, and for
        others with a platform admin's token."""
        platform: Platform = request.app.state.platform
        if platform.settings.mode == "embedded" and not _on_this_machine(request):
            principal = await get_principal(request, caller)
            if not principal.is_platform_admin:
                raise Forbidden("metrics are for platform admins")
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for spec in specs:
        for router in spec.routers():
            app.include_router(router)
    if isinstance(platform.store, LocalStore):
        # Embedded mode hands out signed routes where S3 would hand out presigned URLs.
        objects = signed_objects_router(platform.store)
        for route in objects.routes:
            # An upload through a signed URL streams into the store, as it would into S3.
            if isinstance(route, APIRoute) and route.name == "put_signed_object":
                reads_own_body(route.endpoint)
        app.include_router(objects)
    document_body_limits(app)
    return app
