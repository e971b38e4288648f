"""The platform as a user meets it, on the embedded backends and on the real ones."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import S3Server
from tests.support.platform import embedded_settings, real_settings
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


@pytest.fixture
def settings_for(request: pytest.FixtureRequest, backend: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings for the backend under test; the real one gets its own schemas, queues, bucket."""

    def make(detector: Path | None = None, **overrides: Any) -> Settings:
        if backend == "embedded":
            settings = embedded_settings(tmp_path / "data", detector=detector)
            return settings.model_copy(update=overrides) if overrides else settings
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
