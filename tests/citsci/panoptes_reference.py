"""panoptes-aggregation, run in its own environment, as the reference for our survey tallies.

The environment is ``make panoptes-aggregation-venv``'s; where it is missing (a fresh clone
running pytest directly) it is made here the same way, so the comparison always runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv-panoptes"
SCRIPT = Path(__file__).with_name("panoptes_survey.py")


def panoptes_python() -> Path:
    """The environment's interpreter, the environment made first if it is not there."""
    if not (VENV / ".installed").exists():
        if shutil.which("make"):
            subprocess.run(["make", "panoptes-aggregation-venv"], cwd=ROOT, check=True)
        else:
            subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
            subprocess.run(
                [
                    str(VENV / "bin" / "pip"),
                    "install",
                    "--quiet",
                    "--no-compile",
                    "-r",
                    "requirements-panoptes.txt",
                ],
                cwd=ROOT,
                check=True,
            )
            (VENV / ".installed").touch()
    return VENV / "bin" / "python"


def panoptes_survey(
    export: Path, *, workflow_id: int, version: str, task: str, labels: list[str]
) -> dict[str, Any]:
    """What panoptes-aggregation's extract and reduce give for the export (see the script)."""
    with tempfile.TemporaryDirectory() as tmp:
        out, labels_file = Path(tmp) / "out.json", Path(tmp) / "labels.json"
        labels_file.write_text(json.dumps(labels))
        ran = subprocess.run(
            [
                str(panoptes_python()),
                str(SCRIPT),
                str(export),
                str(workflow_id),
                version,
                task,
                str(out),
                str(labels_file),
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if ran.returncode != 0:
            raise RuntimeError(f"panoptes-aggregation failed:\n{ran.stderr[-4000:]}")
        result: dict[str, Any] = json.loads(out.read_text())
    return result
