"""The sweep of stored objects nothing refers to: originals no medium holds, staging objects
no pending file of a bulk upload awaits."""

from .schedule import OrphanSweeper
from .service import SweepResult, sweep_orphans

__all__ = ["OrphanSweeper", "SweepResult", "sweep_orphans"]
