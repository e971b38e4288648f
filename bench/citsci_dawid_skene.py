"""One Dawid-Skene retirement of a built-in subject in a project of many classifications:
seconds with volunteers' skill estimated over every classification of the project next to
over the window the service uses (``WILDLENS_CITSCI__VOLUNTEERS__DAWID_SKENE_WINDOW``: the
newest classifications, every gold-standard one and the subject's own).

The project (``tests/support/volunteer_votes.py``): ``--classifications`` over subjects of
``--votes`` each, every 20th gold standard, 50 volunteers, in an SQLite database of its own
(the embedded backend). Each run classifies a fresh early subject with the vote that retires
it, inside one transaction, as ``POST /v1/citsci/subjects/{id}/classifications`` does (its
consensus staged on a bus that keeps it).

    python bench/citsci_dawid_skene.py [--classifications 100000] [--votes 5] [--window 20000]

The last line reads ``dawid-skene retirement at <n> classifications: whole project <s> s,
window of <w> <s> s, ratio R`` (R = the whole project's seconds over the window's).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.volunteer_votes import HERON, fill_votes
from wildlens.citsci.models import metadata
from wildlens.citsci.volunteers import service
from wildlens.citsci.volunteers.schemas import ClassificationCreate, TaxonVote
from wildlens.common.db import Database
from wildlens.common.service import ServiceBus


class KeptEvents:
    """Where the retirement's consensus goes: kept, not published."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    async def stage(self, session: Any, events: list[Any]) -> None:
        self.events.extend(events)


async def _retire(db: Database, subject_id: Any, window: int | None) -> float:
    bus = cast(ServiceBus, KeptEvents())
    vote = ClassificationCreate(taxa=[TaxonVote(scientific_name=HERON)])
    started = time.perf_counter()
    async with db.transaction() as session:
        done = await service.classify(
            session, bus, subject_id, "volunteer-late", vote, skill_window=window
        )
    elapsed = time.perf_counter() - started
    assert done.retired
    assert done.subject.consensus_method == "dawid_skene"
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classifications", type=int, default=100_000)
    parser.add_argument("--votes", type=int, default=5)
    parser.add_argument("--window", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="citsci-ds-") as folder:
        engine = create_async_engine(f"sqlite+aiosqlite:///{folder}/citsci.db")
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        db = Database(engine, schema=None)
        started = time.perf_counter()
        _, subjects = await fill_votes(
            db,
            subjects=args.classifications // args.votes,
            votes=args.votes,
            rules={"max_classifications": args.votes + 1},
        )
        print(
            f"{args.classifications} classifications made in {time.perf_counter() - started:.1f} s"
        )
        # Early, non-gold subjects: outside the window but for their own classifications.
        whole = await _retire(db, subjects[1], None)
        windowed = await _retire(db, subjects[2], args.window)
        await engine.dispose()
    print(
        f"dawid-skene retirement at {args.classifications} classifications: whole project "
        f"{whole:.2f} s, window of {args.window} {windowed:.2f} s, ratio {whole / windowed:.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
