"""The README's shell examples, run as a newcomer runs them: in order, in one bash session
(``set -euo pipefail``), from a folder laid out like the repository's root, against the whole
platform started the way ``make run`` starts it (``wildlens up``, data in ``./.wildlens``) on a
free port, given as ``PORT`` as a reader who ran ``make run PORT=…`` would.

The blocks come from README.md itself, so the examples cannot drift from what runs. Every
```sh and ```bash block runs, except those whose fence follows, on the line right before it,

* ``<!-- not run: <reason> -->``: it cannot run here (a real SD card, a cluster, files of
  your own, a network the test machine does not have), or
* ``<!-- runs as: the test's own platform -->``: it starts the platform, which this test
  has already started.

Both kinds are counted against the lists below, so a new block that cannot run has to be
acknowledged here; nothing is left out silently.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

# Document order. A block added to the README that cannot run here goes in this list.
NOT_RUN = [
    "downloads MegaDetector v5a from GitHub (no network in the test environment)",
    "installs the AGPL-3.0 converters into the platform's environment",
    "needs md_v5a.0.0.pt, downloaded above",
    "needs COCO Camera Traps, MegaDetector, KSO and EcoTaxa files of your own",
    "the webhook's host must resolve to a public address, and the test machine is offline",
    "needs a detector bundle of your own, and serves a second platform",
    "needs a running platform and a downloaded model",
    "needs a running platform with confirmed labels",
    "needs a Zooniverse account and a running platform",
    "regenerates code, writes a migration and runs the linters and benchmarks, as CI does",
]
RUNS_AS_OUR_PLATFORM = "the test's own platform"
PLATFORM_STARTS = 1

SHELLS = {"sh", "bash"}
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
_MARKER = re.compile(r"^<!--\s*(?P<kind>not run|runs as):\s*(?P<reason>.*?)\s*-->\s*$")
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_SENTINEL = "@@readme-block"
# What the one-image example's photo says in EXIF (20:43:09), read on the camera's +01:00 clock.
HERON_CAPTURED_AT = "2021-04-11T19:43:09Z"


@dataclass(frozen=True)
class Block:
    line: int  # the opening fence's, counted from 1
    text: str
    # ("not run" | "runs as", reason), from the line right before the fence.
    marker: tuple[str, str] | None


@dataclass(frozen=True)
class Readme:
    blocks: list[Block]
    # Markers not right before a shell block's fence: they would mark nothing.
    stray_markers: list[int]


def parse_readme(markdown: str) -> Readme:
    """The shell blocks of ``markdown`` in order, with the marker each carries."""
    lines = markdown.splitlines()
    blocks: list[Block] = []
    marked_lines: set[int] = set()
    markers = {i for i, line in enumerate(lines) if _MARKER.match(line.strip())}
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence = opening["fence"]
        end = i + 1
        while end < len(lines) and not (
            lines[end].startswith(fence[0] * len(fence)) and not lines[end].strip(fence[0]).strip()
        ):
            end += 1
        if opening["info"].lower() in SHELLS:
            marker = None
            if i > 0 and (found := _MARKER.match(lines[i - 1].strip())):
                marker = (found["kind"], found["reason"])
                marked_lines.add(i - 1)
            blocks.append(Block(i + 1, "\n".join(lines[i + 1 : end]), marker))
        i = end + 1
    return Readme(blocks, sorted(line + 1 for line in markers - marked_lines))


@dataclass
class Run:
    blocks: list[Block]
    outputs: dict[int, str]  # by the block's line
    workspace: Path

    def output_of(self, command: str) -> str:
        """The output of the one block that runs ``command``."""
        found = [b for b in self.blocks if command in b.text]
        assert len(found) == 1, f"{len(found)} README blocks run {command!r}"
        return self.outputs[found[0].line]


def _wait_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the platform was not ready within 90 s:\n{log.read_text()[-3000:]}")


def _workspace(root: Path) -> Path:
    """A folder laid out as the README's reader has the repository: its test data, and the
    virtual environment ``make install`` made (this test's own)."""
    shutil.copytree(ROOT / "tests" / "data", root / "tests" / "data")
    (root / ".venv").symlink_to(Path(sys.executable).parent.parent, target_is_directory=True)
    assert (root / ".venv" / "bin" / "wildlens").exists(), "no wildlens beside this python"
    return root


def _script(blocks: list[Block]) -> str:
    parts = [
        "set -Eeuo pipefail",
        "trap 'echo \"(failed with status $? at: $BASH_COMMAND)\"' ERR",
    ]
    for block in blocks:
        parts += [f"echo '{_SENTINEL} {block.line}'", block.text, f"echo '{_SENTINEL} end'"]
    return "\n".join(parts) + "\n"


def _split(output: str) -> dict[int, str]:
    outputs: dict[int, str] = {}
    current: int | None = None
    for line in output.splitlines():
        if line.startswith(f"{_SENTINEL} "):
            word = line.split()[1]
            current = int(word) if word.isdigit() else None
            if current is not None:
                outputs[current] = ""
        elif current is not None:
            outputs[current] += line + "\n"
    return outputs


@pytest.fixture(scope="module")
def readme() -> Readme:
    return parse_readme(README.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def run(readme: Readme, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Every runnable block, in order, in one session against one live platform."""
    workspace = _workspace(tmp_path_factory.mktemp("readme"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WILDLENS_")}
    env.pop("BASH_ENV", None)
    port = free_port()
    log = workspace.parent / "platform.log"
    # What `make run PORT=…` runs, from the repository's root: data in ./.wildlens.
    server = subprocess.Popen(
        [".venv/bin/wildlens", "up", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workspace,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}", server, log)
        runnable = [b for b in readme.blocks if b.marker is None]
        script = workspace.parent / "readme.sh"
        script.write_text(_script(runnable))
        # COLUMNS: a terminal's width, so that the CLI's tables do not fold.
        session = subprocess.run(
            ["bash", str(script)],
            cwd=workspace,
            env={**env, "PORT": str(port), "COLUMNS": "160"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=240,
        )
        outputs = _split(session.stdout)
        if session.returncode != 0:
            failed = max(outputs, default=None)
            block = next((b for b in runnable if b.line == failed), None)
            raise AssertionError(
                f"the README's block at line {failed} failed (exit {session.returncode}):\n"
                f"{block.text if block else ''}\n--- its output:\n{outputs.get(failed or 0, '')}"
                f"\n--- the platform's log:\n{log.read_text()[-2000:]}"
            )
        yield Run(runnable, outputs, workspace)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


def test_the_readme_marks_every_block_it_does_not_run(readme: Readme) -> None:
    assert readme.stray_markers == [], "markers must sit on the line right before a fence"
    not_run = [b.marker[1] for b in readme.blocks if b.marker and b.marker[0] == "not run"]
    assert not_run == NOT_RUN
    starts = [b for b in readme.blocks if b.marker and b.marker[0] == "runs as"]
    assert [b.marker for b in starts] == [("runs as", RUNS_AS_OUR_PLATFORM)] * PLATFORM_STARTS
    # What the test's platform stands in for: a block that starts the platform, nothing else.
    for block in starts:
        assert re.search(r"^\s*make run\b|wildlens up\b", block.text, re.M), block.text


def test_every_runnable_block_runs(run: Run) -> None:
    assert run.blocks, "the README has no runnable shell block"
    assert sorted(run.outputs) == [b.line for b in run.blocks]


def _json_in(output: str) -> Any:
    start = output.index("{")
    return json.loads(output[start:])


def test_one_image_is_shown_recorded_in_its_deployment_at_its_time(run: Run) -> None:
    medium = _json_in(run.output_of("json status deployment_id captured_at observations"))
    assert medium["status"] == "recorded"
    assert re.fullmatch(_UUID, medium["deployment_id"] or "")
    assert medium["captured_at"] == HERON_CAPTURED_AT
    assert medium["observations"] == []  # no detector serves yet


def test_the_card_upload_lists_every_photo_recorded(run: Run) -> None:
    output = run.output_of("wildlens upload")
    assert re.search(r"uploaded\s*│\s*9\b", output), output
    # The photo the gateway posted before is recognised.
    assert re.search(r"duplicates \(already on the platform\)\s*│\s*1\b", output), output
    assert "Recorded by the catalogue: 10 files" in output
    rows = re.findall(
        rf"^(\S+\.JPG)\s+({_UUID})\s+({_UUID})\s+(2021-04-11T\S+Z)\s+recorded$", output, re.M
    )
    assert len(rows) == 10, output
    one_image = _json_in(run.output_of("json status deployment_id captured_at observations"))
    assert {deployment for _, _, deployment, _ in rows} == {one_image["deployment_id"]}
    assert ("20210531082538-RCNX0031.JPG", HERON_CAPTURED_AT) in {(r[0], r[3]) for r in rows}


def test_the_import_keeps_the_uploaded_photos_and_the_export_is_written(run: Run) -> None:
    output = run.output_of("wildlens import camtrap-dp")
    # The package's ten heron photos are the ones already uploaded, not new media.
    assert "media: 10 updated" in output, output
    assert re.search(r"observations: \d+ created", output), output
    with zipfile.ZipFile(run.workspace / "gbif.zip") as archive:
        assert {"meta.xml", "eml.xml", "occurrence.txt"} <= set(archive.namelist())


def test_privacy_names_the_heron_by_its_taxon(run: Run) -> None:
    privacy = _json_in(run.output_of("/privacy"))
    assert [t["scientific_name"] for t in privacy["sensitive_taxa"]] == ["Ardea cinerea"]
    assert privacy["coordinate_precision"] == 0.1
    assert privacy["hide_people"] is True


def test_the_alert_rule_it_shows_is_one_the_api_takes(readme: Readme) -> None:
    """The alerts block cannot run here (its webhook's host does not resolve offline), so its
    body is held to the API's own schema instead, with ids where the shell puts them."""
    from wildlens.catalogue.alerts.schemas import AlertRuleCreate

    (block,) = [b for b in readme.blocks if b.marker and "webhook" in b.marker[1]]
    body = re.search(r"<<EOF\n(.*?)\nEOF", block.text, re.S)
    assert body, block.text
    with_ids = re.sub(r"\$\w+", "0b7a3f5e-5d0c-4c52-9d3e-3f0a9d1d2c11", body.group(1))
    rule = AlertRuleCreate.model_validate_json(with_ids)
    assert rule.taxon_id is not None
    assert rule.location_ids
    assert str(rule.webhook_url).startswith("https://")
