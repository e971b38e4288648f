"""The catalogue's own offline validation of Camtrap DP packages."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.camtrapdp import EXAMPLE
from wildlens.catalogue.exchange.camtrapdp.validation import canonical_files, validate_descriptor


def test_the_official_example_is_valid() -> None:
    assert validate_descriptor(EXAMPLE / "datapackage.json") == []


def test_every_problem_is_reported_with_where_it_is(tmp_path: Path) -> None:
    package = tmp_path / "package"
    shutil.copytree(EXAMPLE, package)
    media = (package / "media.csv").read_text()
    media = media.replace("07840dcc,00a2c20d,", "07840dcc,nosuchdep,", 1)
    media = media.replace(",image/jpeg,", ",jpeg,", 1)
    (package / "media.csv").write_text(media)

    problems = validate_descriptor(package / "datapackage.json")
    wrong_type = next(p for p in problems if p.field == "fileMediatype")
    assert (wrong_type.resource, wrong_type.row) == ("media", 2)
    assert wrong_type.location == ["file", "media", 2, "fileMediatype"]
    assert any(p.type == "foreign-key" and p.resource == "media" for p in problems)


def test_nothing_outside_the_shipped_profile_is_fetched(tmp_path: Path) -> None:
    package = tmp_path / "package"
    shutil.copytree(EXAMPLE, package)
    descriptor = (package / "datapackage.json").read_text()
    (package / "datapackage.json").write_text(
        descriptor.replace("deployments.csv", "https://example.org/deployments.csv")
    )
    problems = validate_descriptor(package / "datapackage.json")
    assert any(p.resource == "deployments" for p in problems)
    assert all(path.is_file() for path in canonical_files().values())
