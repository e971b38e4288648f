"""Where a job's checkpoints go: one per finished epoch, so that a job whose worker died
resumes on another worker from its last finished epoch. The job keeps them in object storage
(``checkpoints/<job>/epoch-NNN.pt``); a folder does for a laptop and for tests."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

__all__ = ["CheckpointStore", "FolderCheckpoints", "checkpoint_name"]

_NAME = re.compile(r"^epoch-(\d+)\.pt$")


def checkpoint_name(epoch: int) -> str:
    return f"epoch-{epoch:03d}.pt"


class CheckpointStore(Protocol):
    def save(self, data: bytes, epoch: int) -> None:
        """Keep the checkpoint of a finished epoch (whole, or not at all)."""

    def load_latest(self) -> bytes | None:
        """The checkpoint of the latest finished epoch; None before the first."""


class FolderCheckpoints:
    """``epoch-NNN.pt`` files in a folder, written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def epochs(self) -> list[int]:
        if not self.folder.is_dir():
            return []
        found = (_NAME.match(p.name) for p in self.folder.iterdir())
        return sorted(int(m.group(1)) for m in found if m)

    def save(self, data: bytes, epoch: int) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".epoch-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, self.folder / checkpoint_name(epoch))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load_latest(self) -> bytes | None:
        epochs = self.epochs()
        return (self.folder / checkpoint_name(epochs[-1])).read_bytes() if epochs else None
