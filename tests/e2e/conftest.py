"""The platform as a user meets it, on the embedded backends and on the real ones.

A test names what it needs and gets it: ``wl`` (the running platform), ``admin`` (a platform
admin's token), ``project``, ``site`` (project, location, camera, deployment and the camera's
token), ``upload`` (media posted with the site's camera), and factories for more of each
(``new_project``, ``new_site``, ``new_deployment``, ``token_for``). A module changes what the
platform runs with marks: ``tiny_detector`` (the global detector model) and ``services(...)``
(only these services, for tests that talk to one); or by overriding ``settings`` itself.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_HOST, PG_PORT, S3Server
from tests.support.api import Site
from tests.support.factories import Deployments, Projects, Sites, Tokens, Uploads
from tests.support.migrated import EmbeddedTemplate, PostgresTemplate
from tests.support.platform import (
    RunningPlatform,
    SettingsFactory,
    admin_token,
    embedded_settings,
    real_settings,
    running,
)
from wildlens.common.settings import Settings

DATA = Path(__file__).resolve().parents[1] / "data" / "camtrap-dp" / "example"
HERON_DEPLOYMENT = "62c200a9"


@pytest.fixture
def heron_images() -> list[Path]:
    return sorted((DATA / "media").glob("*.JPG"))


@pytest.fixture
def heron_timestamps() -> dict[str, datetime]:
    """What the Camtrap DP example says each heron image's capture time is."""
    with (DATA / "media.csv").open(newline="") as fh:
        return {
            row["fileName"]: datetime.fromisoformat(row["timestamp"])
            for row in csv.DictReader(fh)
            if row["deploymentID"] == HERON_DEPLOYMENT
        }


@pytest.fixture(params=["embedded", pytest.param("real", marks=pytest.mark.backends)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def embedded_template(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedTemplate:
    """The embedded databases migrated once for the run (see :mod:`tests.support.migrated`)."""
    return EmbeddedTemplate(embedded_settings(tmp_path_factory.mktemp("migrated") / "data"))


@pytest.fixture(scope="session")
def postgres_template(
    s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PostgresTemplate]:
    """The real backend's schemas migrated once for the run (see :mod:`tests.support.migrated`)."""
    unique = "t" + uuid.uuid4().hex[:10]
    settings = real_settings(
        tmp_path_factory.mktemp("migrated") / "data",
        schema_prefix=f"{unique}_",
        amqp_prefix=f"{unique}.",
        s3=s3_server,
        bucket=f"{unique}-bucket",
    )
    connect = {"host": PG_HOST, "port": PG_PORT, "user": "postgres", "database": "test"}
    template = PostgresTemplate(settings, connect)
    yield template
    template.drop()


@pytest.fixture
def settings_for(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> SettingsFactory:
    """Settings for the backend under test; the real one gets its own schemas, queues, bucket.
    Either starts from databases already migrated."""
    template: EmbeddedTemplate | None = None
    if backend == "embedded":
        template = request.getfixturevalue("embedded_template")
    else:
        postgres: PostgresTemplate = request.getfixturevalue("postgres_template")
        postgres.copy_into(request.getfixturevalue("pg_schema_prefix"))

    def make(detector: Path | None = None, **overrides: Any) -> Settings:
        if backend == "embedded":
            settings = embedded_settings(tmp_path / "data", detector=detector)
            settings = settings.model_copy(update=overrides) if overrides else settings
            assert template is not None
            template.copy_into(settings)
            return settings
        s3: S3Server = request.getfixturevalue("s3_server")
        settings = real_settings(
            tmp_path / "data",
            schema_prefix=request.getfixturevalue("pg_schema_prefix"),
            amqp_prefix=request.getfixturevalue("amqp_prefix"),
            s3=s3,
            bucket=request.getfixturevalue("s3_bucket"),
            detector=detector,
        )
        return settings.model_copy(update=overrides) if overrides else settings

    return make


@pytest.fixture
def detector(request: pytest.FixtureRequest) -> Path | None:
    """The global detector model: the tiny one for tests marked ``tiny_detector``, else none
    (a module may override this fixture)."""
    if request.node.get_closest_marker("tiny_detector") is not None:
        found: Path = request.getfixturevalue("tiny_detector")
        return found
    return None


@pytest.fixture
def services(request: pytest.FixtureRequest) -> list[str] | None:
    """The services the platform runs: those a ``services`` mark names (a test that talks to
    one service starts only that one, which is faster), else all."""
    marker = request.node.get_closest_marker("services")
    return list(marker.args) if marker is not None else None


@pytest.fixture
def settings(settings_for: SettingsFactory, detector: Path | None) -> Settings:
    """One test's settings; the same object for every fixture of that test (on the real
    backends each call of ``settings_for`` makes a new signing key)."""
    return settings_for(detector=detector)


@pytest.fixture
async def wl(settings: Settings, services: list[str] | None) -> AsyncIterator[RunningPlatform]:
    """The platform, started for the test and stopped after it."""
    async with running(settings, services) as platform:
        yield platform


@pytest.fixture
def admin(settings: Settings) -> str:
    """A platform admin's token (subject ``admin``)."""
    return admin_token(settings)


@pytest.fixture
def token_for(settings: Settings) -> Tokens:
    return Tokens(settings)


@pytest.fixture
def new_project(wl: RunningPlatform, admin: str) -> Projects:
    return Projects(wl.client, admin)


@pytest.fixture
async def project(new_project: Projects) -> str:
    """The id of an empty project the admin created."""
    return await new_project()


@pytest.fixture
def new_site(wl: RunningPlatform, admin: str) -> Sites:
    return Sites(wl.client, admin)


@pytest.fixture
async def site(new_site: Sites) -> Site:
    """A project with one location, one camera, one deployment and the camera's token."""
    return await new_site()


@pytest.fixture
def new_deployment(wl: RunningPlatform, admin: str) -> Deployments:
    return Deployments(wl.client, admin)


@pytest.fixture
def upload(wl: RunningPlatform, site: Site) -> Uploads:
    """Posts media with the site's camera token."""
    return Uploads(wl.client, site.device_token)
