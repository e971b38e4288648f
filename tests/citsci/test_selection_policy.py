"""A project's selection policy weighing candidates: the reasons it gives, the seeded
quality-control sample at its rate, sure blanks never, and the subject a candidate becomes
(an event's pictures, a video clip's frames with the seconds they span, people left out)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from wildlens.citsci.selection.policy import drawn, reasons_for, shape
from wildlens.citsci.selection.schemas import SelectionPolicyIn

CONFIDENT: dict[str, Any] = {
    "kind": "image",
    "lowest_certainty": 0.95,
    "entropy": 0.1,
    "margin": 0.9,
    "rarest_validated": 50,
    "volunteers_disagree": False,
    "models_disagree": False,
    "not_analysed": False,
    "blank": False,
    "scientific_names": ["Ardea cinerea"],
    "group": [],
    "group_kind": None,
}


def _candidate(**fields: Any) -> dict[str, Any]:
    return {**CONFIDENT, "media_id": str(uuid.uuid4()), **fields}


def test_the_quality_control_sample_is_seeded_and_at_its_rate() -> None:
    ids = [str(uuid.UUID(int=n)) for n in range(20_000)]
    picked = [m for m in ids if drawn(3, m, 0.1)]
    assert 0.09 < len(picked) / len(ids) < 0.11
    assert picked == [m for m in ids if drawn(3, m, 0.1)]
    # Another seed draws other media; a higher rate draws those and more.
    assert set(picked) != {m for m in ids if drawn(4, m, 0.1)}
    assert set(picked) <= {m for m in ids if drawn(3, m, 0.3)}
    assert not any(drawn(3, m, 0.0) for m in ids)


def test_each_reason_is_given_and_confident_ones_only_by_the_sample() -> None:
    policy = SelectionPolicyIn(quality_control_rate=0)
    assert reasons_for(_candidate(), policy) == []
    cases: dict[str, list[dict[str, Any]]] = {
        "uncertain": [
            {"lowest_certainty": 0.3},
            {"entropy": 0.7},
            {"margin": 0.1},
        ],
        "disagreement": [{"volunteers_disagree": True}, {"models_disagree": True}],
        "rare_taxon": [{"rarest_validated": 2}],
        "not_analysed": [
            {
                "not_analysed": True,
                "lowest_certainty": None,
                "entropy": None,
                "margin": None,
                "rarest_validated": None,
            }
        ],
    }
    for reason, variants in cases.items():
        for fields in variants:
            assert [r.reason for r in reasons_for(_candidate(**fields), policy)] == [reason]
            # Turned off, the reason chooses nothing.
            off = policy.model_copy(
                update={
                    {"rare_taxon": "rare_taxa"}.get(reason, reason): False,
                }
            )
            assert reasons_for(_candidate(**fields), off) == []
    every = SelectionPolicyIn(quality_control_rate=1.0)
    assert [r.reason for r in reasons_for(_candidate(), every)] == ["quality_control"]
    # A medium with a reason is not counted in the sample.
    assert [r.reason for r in reasons_for(_candidate(margin=0.0), every)] == ["uncertain"]


def test_a_blank_the_detector_is_sure_of_never_goes_to_people() -> None:
    every = SelectionPolicyIn(quality_control_rate=1.0, rare_below=1000)
    sure = _candidate(blank=True, lowest_certainty=0.9, models_disagree=True)
    assert reasons_for(sure, every) == []
    unsure = _candidate(blank=True, lowest_certainty=0.4)
    assert [r.reason for r in reasons_for(unsure, every)] == ["uncertain", "rare_taxon"]


def test_an_event_becomes_one_subject_without_its_people_or_what_is_taken() -> None:
    chosen, other, person, taken = (uuid.uuid4() for _ in range(4))
    c = _candidate(
        media_id=str(chosen),
        group_kind="event",
        group=[
            {"media_id": str(m), "kind": "image", "people_hidden": m == person}
            for m in (other, chosen, person, taken)
        ],
    )
    shaped = shape(c, SelectionPolicyIn(), {taken})
    assert shaped is not None
    assert (shaped.media_ids, shaped.clip, shaped.left_out) == ([other, chosen], None, [person])
    alone = shape(c, SelectionPolicyIn(group_events=False), set())
    assert alone is not None
    assert alone.media_ids == [chosen]


def test_a_video_becomes_a_clip_of_its_frames_around_the_chosen_one() -> None:
    video = uuid.uuid4()
    frames = [uuid.uuid4() for _ in range(30)]
    group = [
        {"media_id": str(f), "kind": "frame", "offset_ms": 1000 * n} for n, f in enumerate(frames)
    ]
    c = _candidate(
        media_id=str(frames[20]),
        kind="frame",
        parent_media_id=str(video),
        group_kind="video",
        group=group,
    )
    shaped = shape(c, SelectionPolicyIn(max_frames=6), set())
    assert shaped is not None
    assert shaped.media_ids == frames[17:23]
    assert shaped.clip is not None
    assert (shaped.clip.video_media_id, shaped.clip.start_s, shaped.clip.end_s) == (video, 17, 22)
    # A short video (a video no detector analysed) is shown whole.
    whole = _candidate(
        media_id=str(video), kind="video", group_kind="video", group=group[:4], not_analysed=True
    )
    shown = shape(whole, SelectionPolicyIn(), set())
    assert shown is not None
    assert shown.media_ids == frames[:4]
    assert shown.clip is not None
    assert (shown.clip.start_s, shown.clip.end_s) == (0, 3)
    # Without frames there is nothing volunteers can see.
    assert shape({**whole, "group": []}, SelectionPolicyIn(), set()) is None


@pytest.mark.parametrize(
    "fields",
    [
        {"max_certainty": -0.1},
        {"quality_control_rate": 2},
        {"max_frames": 0},
        {"rare_below": 0},
        {"unknown": 1},
        {
            "uncertain": False,
            "disagreement": False,
            "rare_taxa": False,
            "not_analysed": False,
            "quality_control_rate": 0,
        },
    ],
)
def test_a_nonsense_policy_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SelectionPolicyIn.model_validate(fields)
