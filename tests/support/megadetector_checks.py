"""MegaDetector's own checkers, run in a process of their own.

Importing MegaDetector's utilities sets Pillow's ``LOAD_TRUNCATED_IMAGES`` for the whole
process, which ingest refuses to run with (a truncated photo must be refused, not half-read);
in a child process the test run keeps Pillow as the platform configures it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_CCT_CHECK = """
import json, sys
from megadetector.data_management.integrity_check_json_db import (
    IntegrityCheckOptions, integrity_check_json_db,
)
options = IntegrityCheckOptions()
options.baseDir = sys.argv[2]
options.bCheckImageExistence = options.bCheckImageSizes = True
options.requireInfo = True
options.validateBoxes = "error"
options.nThreads, options.verbose = 1, False
_, _, problems = integrity_check_json_db(sys.argv[1], options)
print(json.dumps([list(p) for p in problems["validation_errors"]]))
"""


def cct_problems(document: Path, base_dir: Path) -> list[tuple[str, str]]:
    """(file name, why) for every problem MegaDetector's COCO Camera Traps checker finds in
    ``document``, with image files looked up (existence and size) under ``base_dir``."""
    done = subprocess.run(
        [sys.executable, "-c", _CCT_CHECK, str(document), str(base_dir)],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return [(name, why) for name, why in json.loads(done.stdout.strip().splitlines()[-1])]
