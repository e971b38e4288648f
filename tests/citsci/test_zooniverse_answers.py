"""A Zooniverse classification in the shape the built-in volunteers' are kept: survey choices
matched to the project's taxa, count buckets as their smallest count, "nothing here" in each
of Zooniverse's spellings, and rectangles relative to the display copy they were drawn on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from wildlens.citsci.aggregation import Classification, parse_annotations
from wildlens.citsci.models import ZooniverseSubject
from wildlens.citsci.zooniverse.answers import answers_of, taxon_names

HERON_ID = str(uuid.uuid4())
NAMES = taxon_names({"Ardea cinerea": HERON_ID})


def _classification(annotations: list[dict[str, Any]]) -> Classification:
    return Classification(
        classification_id=1,
        volunteer="user:7",
        user_name="ana",
        user_id=7,
        workflow_id=777,
        workflow_version="1.1",
        created_at=datetime(2026, 5, 1, tzinfo=UTC),
        gold_standard=False,
        expert=False,
        subject_ids=(1001,),
        annotations=parse_annotations(annotations),
    )


def _subject(width: int | None = 200, height: int | None = 100) -> ZooniverseSubject:
    return ZooniverseSubject(
        subject_set_id=uuid.uuid4(),
        project_id=uuid.uuid4(),
        media_id=uuid.uuid4(),
        zooniverse_subject_id="1001",
        width=width,
        height=height,
    )


def test_choices_name_the_project_taxa_with_counts_behaviours_and_relative_boxes() -> None:
    subject = _subject()
    said = answers_of(
        _classification(
            [
                {
                    "task": "T0",
                    "value": [
                        {
                            "choice": "ARDEACINEREA",
                            "answers": {"HOWMANY": "1150", "BEHAVIOR": ["FORAGING", "STANDING"]},
                            "filters": {},
                        },
                        {"choice": "ARDEACINEREA", "answers": {"HOWMANY": "2"}, "filters": {}},
                        {"choice": "OTTER", "answers": {"HOWMANY": "3"}, "filters": {}},
                    ],
                },
                {
                    "task": "T1",
                    "value": [
                        {"tool": 0, "x": 20, "y": 10, "width": 50, "height": 40},
                        # Past the image's edge: clipped to it.
                        {"tool": 0, "x": 180, "y": 90, "width": 50, "height": 40},
                    ],
                },
            ]
        ),
        subject,
        NAMES,
    )
    assert not said.nothing_here
    heron, otter = said.taxa
    assert heron == {
        "scientific_name": "Ardea cinerea",
        "taxon_id": HERON_ID,
        "choice": "ARDEACINEREA",
        "behaviours": ["FORAGING", "STANDING"],
        "count": 11,
    }
    # A choice the project does not list keeps Zooniverse's words.
    assert (otter["scientific_name"], otter["taxon_id"], otter["count"]) == ("OTTER", None, 3)
    first, edge = said.boxes
    assert first["media_id"] == str(subject.media_id)
    assert [first[k] for k in ("x", "y", "width", "height")] == pytest.approx([0.1, 0.1, 0.25, 0.4])
    assert [edge[k] for k in ("x", "width", "y", "height")] == pytest.approx([0.9, 0.1, 0.9, 0.1])


def test_nothing_here_in_each_spelling_and_boxes_without_a_known_size() -> None:
    for value in ([], [{"choice": "NTHNGHR", "answers": {}, "filters": {}}]):
        said = answers_of(_classification([{"task": "T0", "value": value}]), _subject(), NAMES)
        assert (said.nothing_here, said.taxa) == (True, [])
    drawn = [{"task": "T1", "value": [{"tool": 0, "x": 1, "y": 1, "width": 5, "height": 5}]}]
    said = answers_of(_classification(drawn), _subject(None, None), NAMES)
    assert said.boxes == []
