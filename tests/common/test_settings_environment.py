"""The environment variables a deployment sets keep their names and meaning, wherever the
settings they fill are declared: the common settings and each installed service's group.

The list of variables is held to a committed copy, written from the settings as they were
before the services' groups moved out of ``wildlens.common``. A change that is meant fails this
test until the copy is written again on purpose:

    WILDLENS_WRITE_SETTINGS_ENVIRONMENT=1 .venv/bin/pytest tests/common/test_settings_environment.py
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, ClassVar

import pytest
import typer
from pydantic import ValidationError
from typer.testing import CliRunner

from tests.support.settings_environment import environment_lines
from wildlens.catalogue.settings import AlertSettings, GbifSettings
from wildlens.common.cli.service_options import ChosenSettings, with_service_options
from wildlens.common.http import create_app
from wildlens.common.service import (
    ServiceSpec,
    SettingOption,
    discover_services,
    platform_settings,
)
from wildlens.common.settings import Settings, SettingsGroup
from wildlens.inference.settings import InferenceSettings
from wildlens.ingest.settings import IngestSettings

COPY = Path(__file__).resolve().parents[1] / "data" / "settings" / "environment.txt"


def test_every_variable_is_recognised_with_its_type() -> None:
    recognised = environment_lines(platform_settings())
    if os.environ.get("WILDLENS_WRITE_SETTINGS_ENVIRONMENT"):
        COPY.write_text("\n".join(recognised) + "\n")
    assert recognised == COPY.read_text().splitlines()


def test_each_service_reads_its_variables_through_its_group(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WILDLENS_INGEST__MAX_IMAGE_BYTES", "1234")
    monkeypatch.setenv("WILDLENS_INGEST__RUN_WORKERS", "false")
    monkeypatch.setenv("WILDLENS_INFERENCE__DETECTOR", "/models/detector")
    monkeypatch.setenv("WILDLENS_INFERENCE__PRIOR_WEIGHTS", '{"*": 0.5}')
    monkeypatch.setenv("WILDLENS_ALERTS__ALLOW_PRIVATE_TARGETS", "true")
    # The catalogue's second group.
    monkeypatch.setenv("WILDLENS_GBIF__BASE_URL", "https://api.gbif.org/v1")
    monkeypatch.setenv("WILDLENS_LOG_LEVEL", "DEBUG")

    settings = platform_settings()()
    assert settings.log_level == "DEBUG"
    assert IngestSettings.of(settings).max_image_bytes == 1234
    assert IngestSettings.of(settings).run_workers is False
    assert InferenceSettings.of(settings).detector == Path("/models/detector")
    assert InferenceSettings.of(settings).prior_weights == {"*": 0.5}
    assert AlertSettings.of(settings).allow_private_targets is True
    assert GbifSettings.of(settings).base_url == "https://api.gbif.org/v1"
    assert GbifSettings.of(settings).timeout_s == 5.0

    # Settings built with the common fields only (as tests and tools do) get the services'
    # groups from the environment when a platform runs them.
    app = create_app(Settings(mode="embedded", data_dir=tmp_path), discover_services())
    running = app.state.platform.settings
    assert IngestSettings.of(running).max_image_bytes == 1234
    assert InferenceSettings.of(running).detector == Path("/models/detector")
    assert AlertSettings.of(running).allow_private_targets is True
    assert GbifSettings.of(running).base_url == "https://api.gbif.org/v1"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "WILDLENS_INGEST__MAX_IMAGE_BYTES",
            "lots",
            "1 validation error for Settings\ningest.max_image_bytes\n"
            "  Input should be a valid integer, unable to parse string as an integer "
            "[type=int_parsing, input_value='lots', input_type=str]",
        ),
        (
            "WILDLENS_INFERENCE__MAX_BATCH",
            "0",
            "1 validation error for Settings\ninference.max_batch\n"
            "  Input should be greater than or equal to 1 "
            "[type=greater_than_equal, input_value='0', input_type=str]",
        ),
        (
            "WILDLENS_ALERTS__ALLOW_PRIVATE_TARGETS",
            "perhaps",
            "1 validation error for Settings\nalerts.allow_private_targets\n"
            "  Input should be a valid boolean, unable to interpret input "
            "[type=bool_parsing, input_value='perhaps', input_type=str]",
        ),
    ],
)
def test_an_invalid_value_is_refused_as_before(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as refused:
        platform_settings()()
    assert str(refused.value).startswith(message + "\n")


def test_a_group_given_to_settings_without_its_service_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="ingest\n  Extra inputs are not permitted"):
        Settings.model_validate({"data_dir": tmp_path, "ingest": {"max_image_bytes": 1}})
    with pytest.raises(LookupError, match="no 'ingest' group"):
        IngestSettings.of(Settings(data_dir=tmp_path))


def test_service_options_of_up_set_their_group(tmp_path: Path) -> None:
    seen: list[Settings] = []

    def up(data: Annotated[Path, typer.Option()], *, chosen: ChosenSettings) -> None:
        seen.append(chosen.applied_to(platform_settings()(data_dir=data)))

    app = typer.Typer()
    app.command()(with_service_options(up, discover_services()))
    app.command()(lambda: None)  # a second command, so that typer names them
    detector = tmp_path / "detector"
    result = CliRunner().invoke(app, ["up", "--data", str(tmp_path), "--detector", str(detector)])
    assert result.exit_code == 0, result.output
    assert InferenceSettings.of(seen[0]).detector == detector
    # Not given: what the environment says.
    assert InferenceSettings.of(seen[0]).classifier is None


class _Probe(SettingsGroup):
    group: ClassVar[str] = "probe"
    depth: int = 1


class _ProbeLimits(SettingsGroup):
    group: ClassVar[str] = "probe_limits"
    ceiling: int = 10


def test_a_service_may_declare_several_groups_and_options_set_either(tmp_path: Path) -> None:
    spec = ServiceSpec(
        name="probe",
        routers=list,
        settings=(_Probe, _ProbeLimits),
        up_options=(SettingOption("ceiling", "The ceiling"),),
    )
    seen: list[Settings] = []

    def up(data: Annotated[Path, typer.Option()], *, chosen: ChosenSettings) -> None:
        seen.append(chosen.applied_to(platform_settings([spec])(data_dir=data)))

    app = typer.Typer()
    app.command()(with_service_options(up, [spec]))
    app.command()(lambda: None)
    result = CliRunner().invoke(app, ["up", "--data", str(tmp_path), "--ceiling", "3"])
    assert result.exit_code == 0, result.output
    assert (_Probe.of(seen[0]).depth, _ProbeLimits.of(seen[0]).ceiling) == (1, 3)
    with pytest.raises(ValueError, match="no setting 'width' for its option"):
        ServiceSpec(
            name="probe",
            routers=list,
            settings=(_Probe, _ProbeLimits),
            up_options=(SettingOption("width", "The width"),),
        )
