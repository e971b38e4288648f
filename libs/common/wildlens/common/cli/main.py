"""``wildlens``: run the platform, one service, migrations, and mint tokens.

Services are found through the ``wildlens.services`` entry points, so a container with one
service installed runs just that one.
"""

from __future__ import annotations

import asyncio
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from wildlens.common.auth import ROLES, TokenIssuer, load_keyring
from wildlens.common.cli.service_options import ChosenSettings, with_service_options
from wildlens.common.service.spec import ServiceSpec, discover_services, platform_settings
from wildlens.common.settings import Settings
from wildlens.common.telemetry import configure_logging

__all__ = ["COMMANDS_GROUP", "app"]

COMMANDS_GROUP = "wildlens.commands"

app = typer.Typer(
    name="wildlens",
    help="Wildlens: camera-trap, underwater video and plankton images into verified observations.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data", help="Embedded mode's folder (default: WILDLENS_DATA_DIR or ./.wildlens)."
    ),
]


def _settings(data: Path | None = None, **overrides: object) -> Settings:
    # The common settings and the groups of every installed service, from the environment.
    settings = platform_settings()()
    updates: dict[str, object] = dict(overrides)
    if data is not None:
        updates["data_dir"] = data
    return settings.model_copy(update=updates) if updates else settings


def up(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    data: DataOption = None,
    *,
    chosen: ChosenSettings,
) -> None:
    """Run every installed service in one process on the embedded backends."""
    from wildlens.common.cli.serving import serve_app
    from wildlens.common.http import create_app

    settings = _settings(data, mode="embedded", public_url=f"http://{host}:{port}")
    # What the services' own options (such as inference's --detector) set.
    settings = chosen.applied_to(settings)
    configure_logging(settings.log_level, json=settings.log_json)
    specs = discover_services()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keys = load_keyring(settings)
    admin_marker = settings.data_dir / "admin-created"
    if not admin_marker.exists():
        admin_marker.write_text("admin\n")
        issuer = TokenIssuer(keys, settings.auth.issuer)
        token = issuer.user_token("admin", {"*": "admin"}, ttl_s=settings.auth.token_ttl_s)
        console.print(
            f"[bold]Created the admin identity[/] in {settings.data_dir}.\n"
            f"An admin token (valid {settings.auth.token_ttl_s // 60} minutes):"
        )
        # Printed plainly, never wrapped, so that it can be copied whole.
        print(token, file=sys.stderr, flush=True)
        console.print(
            "Get another any time with: [bold]wildlens token --role admin[/]"
            + (f" --data {data}" if data else ""),
            soft_wrap=True,
        )
    console.print(
        f"Serving {', '.join(s.name for s in specs)} on http://{host}:{port} "
        f"(data in {settings.data_dir.resolve()})"
    )
    serve_app(create_app(settings, specs), settings, host=host, port=port)


# Its options are its own and those the installed services declare.
app.command(name="up")(with_service_options(up, discover_services()))


# Seconds a worker process may take to answer uvicorn's health check.
_WORKER_HEALTHCHECK_S = 60


@app.command()
def serve(
    service: Annotated[
        str,
        typer.Argument(
            help="ingest, catalogue, citsci, training or inference.",
            envvar="WILDLENS_SERVICE",
        ),
    ],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    migrate: Annotated[
        bool, typer.Option(help="Run the service's migrations at start (off when a Job does it).")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="Worker processes; Python handles requests on one core per process."
        ),
    ] = 1,
) -> None:
    """Run one service's API and its bus consumers, configured from the environment."""
    import uvicorn

    from wildlens.common.cli.serving import graceful_timeout, serve_app
    from wildlens.common.http import create_app

    settings = _settings(migrate_on_start=migrate)
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        specs = discover_services([service])
    except LookupError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    if workers == 1:
        serve_app(create_app(settings, specs), settings, host=host, port=port)
        return
    if migrate:
        # Once, here, rather than racing in every worker.
        _migrate(settings, specs)
    os.environ["WILDLENS_SERVICE"] = service
    os.environ["WILDLENS_MIGRATE_ON_START"] = "false"
    uvicorn.run(
        "wildlens.common.http.factory:from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=None,
        timeout_graceful_shutdown=graceful_timeout(settings),
        # uvicorn restarts a worker that does not answer its health check within this; its
        # 5 s default restarts workers still importing on a busy node, for ever.
        timeout_worker_healthcheck=_WORKER_HEALTHCHECK_S,
    )


@app.command()
def migrate(
    service: Annotated[str | None, typer.Argument(help="One service; all when omitted.")] = None,
    data: DataOption = None,
) -> None:
    """Apply database migrations (Alembic, one history per service)."""
    settings = _settings(data)
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        specs = discover_services([service] if service else None)
    except LookupError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc

    _migrate(settings, specs)


def _migrate(settings: Settings, specs: list[ServiceSpec]) -> None:
    from wildlens.common.db import create_database
    from wildlens.common.db.migrations import upgrade
    from wildlens.common.service.platform import attach_tables

    async def run() -> None:
        for spec in specs:
            if spec.metadata is None or spec.migrations is None:
                continue
            attach_tables(spec)
            db = create_database(settings, spec.name)
            try:
                await upgrade(db, spec.migrations)
            finally:
                await db.dispose()
            console.print(f"{spec.name}: migrated to head")

    asyncio.run(run())


@app.command()
def token(
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")] = "admin",
    project: Annotated[
        str | None, typer.Option(help="Project id; every project when omitted.")
    ] = None,
    subject: Annotated[str, typer.Option(help="Who the token is for.")] = "admin",
    ttl: Annotated[
        int | None,
        typer.Option(
            min=1, help="Lifetime in seconds (default WILDLENS_AUTH__TOKEN_TTL_S: an hour)."
        ),
    ] = None,
    data: DataOption = None,
) -> None:
    """Print a bearer token signed with the platform's key."""
    if role not in ROLES:
        console.print(f"[red]unknown role {role!r}; use one of {', '.join(ROLES)}[/]")
        raise typer.Exit(2)
    settings = _settings(data)
    keys = load_keyring(settings)
    if not keys.can_sign:
        console.print("[red]no signing key here (WILDLENS_AUTH__PRIVATE_KEY(_FILE))[/]")
        raise typer.Exit(2)
    issuer = TokenIssuer(keys, settings.auth.issuer)
    typer.echo(
        issuer.user_token(subject, {project or "*": role}, ttl_s=ttl or settings.auth.token_ttl_s)
    )


def _load_plugins() -> None:
    """Commands contributed by installed services (entry point group ``wildlens.commands``):
    each entry point is a function taking this app and adding its commands to it, so a
    container with one service installed offers just that service's commands."""
    for ep in entry_points(group=COMMANDS_GROUP):
        register = ep.load()
        register(app)


_load_plugins()

if __name__ == "__main__":
    app()
