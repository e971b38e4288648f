"""Events and clocks as pure logic: chaining by gap, ids that stay, majority labels, drift."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from wildlens.catalogue.models.clock import CameraClock, drift_problem
from wildlens.catalogue.sequences.grouping import Point, chain, choose_id
from wildlens.catalogue.sequences.smoothing import Vote, majority

T0 = datetime(2021, 4, 1, 6, 0, tzinfo=UTC)
GAP = timedelta(seconds=60)


def _points(*seconds: int, event: uuid.UUID | None = None) -> list[Point]:
    return [Point(uuid.uuid4(), T0 + timedelta(seconds=s), event) for s in seconds]


def test_media_within_the_gap_chain_into_one_event_and_a_longer_pause_starts_another() -> None:
    points = _points(0, 50, 100, 150, 211, 260)
    groups = list(chain(points, GAP))
    # 150 → 211 is a 61 s pause: a new event, even though the first one spans 150 s.
    assert [[p.captured_at for p in g.points] for g in groups] == [
        [p.captured_at for p in points[:4]],
        [p.captured_at for p in points[4:]],
    ]
    assert groups[0].start == T0
    assert groups[0].end == T0 + timedelta(seconds=150)


def test_a_pause_of_exactly_the_gap_still_belongs_to_the_event() -> None:
    assert len(list(chain(_points(0, 60, 120), GAP))) == 1


def test_a_group_keeps_the_earliest_event_and_a_split_keeps_it_on_its_first_part() -> None:
    early, late = uuid.uuid4(), uuid.uuid4()
    starts = {early: T0, late: T0 + timedelta(minutes=5)}
    taken: set[uuid.UUID] = set()
    # A medium bridged both events: the merged group keeps the earlier id.
    assert choose_id([late, None, early, late], starts, taken) == early
    taken.add(early)
    # The remainder of a split event cannot reuse an id already given to an earlier group.
    assert choose_id([early], starts, taken) is None
    assert choose_id([early, late], starts, taken) == late
    # Ids of events this deployment does not have (media that moved in) are not reused.
    assert choose_id([uuid.uuid4()], starts, set()) is None


def _vote(name: str, method: str = "machine", confidence: float = 0.9, **kw: object) -> Vote:
    return Vote(
        media_id=kw.get("media_id", uuid.uuid4()),  # type: ignore[arg-type]
        method=method,
        scientific_name=name,
        taxon_id=None,
        confidence=confidence,
        run_id=kw.get("run_id"),  # type: ignore[arg-type]
        run_at=kw.get("run_at"),  # type: ignore[arg-type]
    )


def test_the_majority_of_machine_labels_wins_with_its_share() -> None:
    label = majority([_vote("Ardea cinerea")] * 3 + [_vote("Botaurus stellaris")])
    assert label is not None
    assert (label.scientific_name, label.method, label.votes, label.total) == (
        "Ardea cinerea",
        "machine",
        3,
        4,
    )


def test_people_outrank_machines_in_an_event() -> None:
    votes = [_vote("Ardea cinerea")] * 5 + [_vote("Botaurus stellaris", method="human")]
    label = majority(votes)
    assert label is not None
    assert (label.scientific_name, label.method, label.votes, label.total) == (
        "Botaurus stellaris",
        "human",
        1,
        1,
    )


def test_a_tie_goes_to_the_more_confident_label_and_nothing_voted_gives_no_label() -> None:
    label = majority([_vote("Anas platyrhynchos", confidence=0.4), _vote("Ardea cinerea")])
    assert label is not None
    assert label.scientific_name == "Ardea cinerea"
    assert majority([_vote("")]) is None
    assert majority([]) is None


def test_only_the_latest_model_run_of_a_medium_votes() -> None:
    media_id = uuid.uuid4()
    old_run, new_run = uuid.uuid4(), uuid.uuid4()
    votes = [
        _vote("Botaurus stellaris", media_id=media_id, run_id=old_run, run_at=T0),
        _vote("Botaurus stellaris", media_id=media_id, run_id=old_run, run_at=T0),
        _vote("Ardea cinerea", media_id=media_id, run_id=new_run, run_at=T0 + GAP),
    ]
    label = majority(votes)
    assert label is not None
    assert (label.scientific_name, label.total) == ("Ardea cinerea", 1)


def test_a_clock_without_drift_reads_with_its_offset_only() -> None:
    clock = CameraClock("+01:00")
    assert clock.to_utc(datetime(2021, 4, 1, 7, 0)) == datetime(2021, 4, 1, 6, 0, tzinfo=UTC)


def test_drift_is_corrected_linearly_from_the_start_to_the_check() -> None:
    start = datetime(2021, 4, 1, tzinfo=UTC)
    checked = start + timedelta(days=10)
    # The camera was 100 s fast at the check: 10 s fast a day into the deployment.
    clock = CameraClock("+00:00", set_at=start, checked_at=checked, drift_seconds=100)
    assert clock.to_utc(datetime(2021, 4, 1)) == start
    assert clock.to_utc(datetime(2021, 4, 11, 0, 1, 40)) == checked
    one_day_reading = datetime(2021, 4, 2, 0, 0, 10)
    assert abs(clock.to_utc(one_day_reading) - (start + timedelta(days=1))) < timedelta(
        milliseconds=1
    )
    # A slow camera is corrected the other way.
    slow = CameraClock("+02:00", set_at=start, checked_at=checked, drift_seconds=-100)
    assert slow.to_utc(datetime(2021, 4, 11, 1, 58, 20)) == checked


@pytest.mark.parametrize(
    ("checked", "drift", "problem"),
    [
        (None, 30.0, "needs clock_checked_at"),
        (datetime(2021, 3, 1, tzinfo=UTC), 30.0, "after the deployment's start"),
        (datetime(2021, 4, 1, 0, 1, tzinfo=UTC), -60.0, "before its start"),
        (None, 0.0, ""),
    ],
)
def test_drift_that_cannot_be_applied_is_explained(
    checked: datetime | None, drift: float, problem: str
) -> None:
    found = drift_problem(datetime(2021, 4, 1, tzinfo=UTC), checked, drift)
    assert (problem in found) if problem else found == ""
