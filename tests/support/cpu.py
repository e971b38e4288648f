"""CPU time that parts of the machine spend over a measured stretch, for the benchmarks.

A part is a group of processes (a service and its workers, PostgreSQL's backends), found
again when the stretch ends: a process started since (a new database connection) counts whole,
one gone since is left out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import psutil

__all__ = ["CpuSpent", "CpuUse", "Parts"]

Parts = Callable[[], Mapping[str, Iterable[psutil.Process]]]


@dataclass(frozen=True)
class CpuSpent:
    """CPU seconds per part, the stretch's wall seconds, and the machine's busy share."""

    seconds: dict[str, float]
    wall: float
    machine_busy: float


def _cpu(process: psutil.Process) -> float | None:
    try:
        times = process.cpu_times()
    except psutil.Error:
        return None  # gone
    return float(times.user + times.system)


def _snapshot(parts: Parts) -> dict[str, dict[int, float]]:
    taken: dict[str, dict[int, float]] = {}
    for name, processes in parts().items():
        taken[name] = {}
        for process in processes:
            if (used := _cpu(process)) is not None:
                taken[name][process.pid] = used
    return taken


class CpuUse:
    """Measures ``parts`` (a function naming each part's processes) between start and stop."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        self._start: dict[str, dict[int, float]] = {}
        self._wall = 0.0
        self._machine = psutil.cpu_times()

    def start(self) -> None:
        self._start = _snapshot(self.parts)
        self._wall = time.monotonic()
        self._machine = psutil.cpu_times()

    def stop(self) -> CpuSpent:
        wall = time.monotonic() - self._wall
        end = _snapshot(self.parts)
        seconds = {
            name: sum(used - self._start.get(name, {}).get(pid, 0.0) for pid, used in now.items())
            for name, now in end.items()
        }
        after = psutil.cpu_times()
        busy = sum(
            getattr(after, f) - getattr(self._machine, f) for f in ("user", "system", "nice")
        )
        total = busy + (after.idle - self._machine.idle) + (after.iowait - self._machine.iowait)
        return CpuSpent(seconds, wall, busy / total if total else 0.0)
