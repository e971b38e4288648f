"""A project's built-in volunteers' classifications made in bulk, straight into citsci's
tables: subjects of one Dawid-Skene set, each classified by ``votes`` of the volunteers (one
second apart, in order), a share of them gold standard; what a long-running project holds
when a classification retires one more subject."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert

from wildlens.citsci.models import SubjectSet, VolunteerClassification, VolunteerSubject
from wildlens.common.db import Database

__all__ = ["HERON", "MALLARD", "fill_votes"]

HERON, MALLARD = "Ardea cinerea", "Anas platyrhynchos"
START = datetime(2026, 1, 1, tzinfo=UTC)


async def fill_votes(
    db: Database,
    *,
    subjects: int,
    votes: int,
    volunteers: int = 50,
    gold_every: int = 20,
    rules: dict[str, int | None] | None = None,
    seed: int = 5,
) -> tuple[SubjectSet, list[uuid.UUID]]:
    """The set, and its subjects in the order they were classified (the gold ones
    included); every subject is classified ``votes`` times, most say a heron."""
    rng = random.Random(seed)
    project_id = uuid.uuid4()
    s = SubjectSet(
        project_id=project_id,
        name="Heron season",
        created_by="manager",
        consensus_method="dawid_skene",
        retirement_rules=rules or {"agreement": None, "max_classifications": votes + 1},
    )
    subject_rows: list[dict[str, Any]] = []
    classification_rows: list[dict[str, Any]] = []
    ids: list[uuid.UUID] = []
    moment = START
    for n in range(subjects):
        gold = n % gold_every == 0
        subject_id = uuid.uuid4()
        ids.append(subject_id)
        subject_rows.append(
            {
                "id": subject_id,
                "subject_set_id": s.id,
                "project_id": project_id,
                "media_ids": [str(uuid.uuid4())],
                "sha256s": ["a" * 64],
                "state": "gold" if gold else "active",
                "expert_names": [HERON] if gold else [],
                "consensus_names": [],
                "created_by": "manager",
            }
        )
        for v in rng.sample(range(volunteers), votes):
            moment += timedelta(seconds=1)
            said = HERON if rng.random() < 0.8 else MALLARD
            classification_rows.append(
                {
                    "id": uuid.uuid4(),
                    "subject_id": subject_id,
                    "project_id": project_id,
                    "volunteer": f"volunteer-{v}",
                    "nothing_here": False,
                    "taxa": [{"scientific_name": said}],
                    "boxes": [],
                    "created_at": moment,
                }
            )
    async with db.transaction() as session:
        session.add(s)
        await session.flush()
        connection = await session.connection()
        await connection.execute(insert(VolunteerSubject), subject_rows)
        for start in range(0, len(classification_rows), 5000):
            chunk = classification_rows[start : start + 5000]
            await connection.execute(insert(VolunteerClassification), chunk)
    return s, ids
