"""A Dawid-Skene retirement weighs volunteers by the skill estimated from a window of the
project's classifications (the newest, every gold-standard one, the subject's own), not all
of them: its cost stays the same as a project grows; on both backends."""

from __future__ import annotations

from sqlmodel import select

from tests.support.platform import RunningPlatform
from tests.support.volunteer_votes import HERON, fill_votes
from wildlens.citsci.models import VolunteerClassification, VolunteerSubject
from wildlens.citsci.volunteers import repository, service
from wildlens.citsci.volunteers.schemas import ClassificationCreate, TaxonVote


async def test_a_dawid_skene_retirement_reads_a_window_of_the_project(
    wl: RunningPlatform,
) -> None:
    ctx = wl.platform.contexts["citsci"]
    db = ctx.db
    # 60 subjects of 4 votes each, every 20th gold standard (3): 240 classifications.
    s, subjects = await fill_votes(db, subjects=60, votes=4, rules={"max_classifications": 5})
    first = subjects[1]
    async with db.transaction() as session:
        every = await repository.project_votes(session, s.project_id)
        window = await repository.project_votes(session, s.project_id, recent=100, subject_id=first)
    assert len(every) == 240
    # The 100 newest, the 12 of the gold subjects older than them, and the early subject's 4.
    newest_gold = sum(1 for n in range(35, 60) if n % 20 == 0)
    assert len(window) == 100 + 4 * (3 - newest_gold) + 4
    assert sum(1 for r in window if r[0] == first) == 4
    assert sum(1 for r in window if r[4] == "gold") == 12

    # The fifth vote retires the early subject by the window's skill.
    async with db.transaction() as session:
        done = await service.classify(
            session,
            ctx.service_bus,
            first,
            "volunteer-late",
            ClassificationCreate(taxa=[TaxonVote(scientific_name=HERON)]),
            skill_window=100,
        )
    assert done.retired
    async with db.transaction() as session:
        retired = await session.get(VolunteerSubject, first)
        assert retired is not None
        assert (retired.state, retired.consensus_method) == ("retired", "dawid_skene")
        assert retired.consensus_names == [HERON]
        stored = (
            await session.exec(
                select(VolunteerClassification).where(VolunteerClassification.subject_id == first)
            )
        ).all()
    assert len(stored) == 5
