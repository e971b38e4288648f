"""Make the ingest service importable when its package is not installed in the environment."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_SERVICE_ROOT = Path(__file__).resolve().parents[2] / "services" / "ingest"

if importlib.util.find_spec("wildlens.ingest") is None:
    # ``wildlens`` is a namespace package: appending the service root is enough for
    # ``wildlens.ingest`` to resolve next to ``wildlens.common``.
    sys.path.append(str(_SERVICE_ROOT))
