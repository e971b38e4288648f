"""Reading Zooniverse classification exports: every task kind, no IP addresses, clear errors."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Mapping

import numpy as np
import pytest

from tests.citsci.zooniverse_exports import export_text, simulate
from wildlens.citsci.aggregation import (
    EXPORT_COLUMNS,
    Classification,
    DrawingAnswer,
    ExportError,
    QuestionAnswer,
    SurveyAnswer,
    read_classifications,
    read_survey_votes,
    survey_votes,
    tally_survey,
)

IP = "203.0.113.77"


def export(*rows: dict[str, object]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_COLUMNS)
    for n, fields in enumerate(rows):
        row: dict[str, object] = {
            "classification_id": 500 + n,
            "user_name": "ana",
            "user_id": 7,
            "user_ip": IP,
            "workflow_id": 11,
            "workflow_name": "Survey",
            "workflow_version": "3.1",
            "created_at": "2026-05-01 10:11:12 UTC",
            "gold_standard": "",
            "expert": "",
            "metadata": json.dumps({"session": "abc", "user_agent": "Firefox"}),
            "annotations": "[]",
            "subject_data": json.dumps({"900": {"retired": None, "#media_id": "m-1"}}),
            "subject_ids": "900",
        }
        row.update(fields)
        writer.writerow([row[c] for c in EXPORT_COLUMNS])
    return buffer.getvalue()


def tasks_json(*tasks: Mapping[str, object]) -> str:
    return json.dumps(list(tasks))


SURVEY = {
    "task": "T0",
    "value": [
        {
            "choice": "ZEBRA",
            "answers": {"HOWMANY": "3", "WHATBEHAVIORSDOYOUSEE": ["EATING", "MOVING"]},
            "filters": {"pattern": "STRIPES"},
        },
        {"choice": "WILDEBEEST", "answers": {"HOWMANY": "1150"}, "filters": {}},
    ],
}
QUESTION_SINGLE = {"task": "T1", "value": 1}
QUESTION_MULTIPLE = {"task": "T2", "value": [0, 2]}
DRAWING = {
    "task": "T3",
    "value": [{"tool": 0, "x": 10.5, "y": 20, "width": 30, "height": 40.25, "frame": 2}],
}


def test_a_survey_question_and_drawing_classification_reads_as_its_parts() -> None:
    text = export(
        {
            "annotations": tasks_json(SURVEY, QUESTION_SINGLE, QUESTION_MULTIPLE, DRAWING),
            "gold_standard": "true",
        }
    )
    (classification,) = read_classifications(io.StringIO(text))
    assert classification.classification_id == 500
    assert classification.volunteer == "user:7"
    assert classification.workflow_id == 11
    assert classification.workflow_version == "3.1"
    assert classification.created_at.isoformat() == "2026-05-01T10:11:12+00:00"
    assert classification.gold_standard is True
    assert classification.subject_id == 900
    assert classification.subject_metadata == {900: {"retired": None, "#media_id": "m-1"}}
    survey, single, multiple, drawing = classification.annotations
    assert isinstance(survey, SurveyAnswer)
    assert [m.choice for m in survey.marks] == ["ZEBRA", "WILDEBEEST"]
    assert survey.marks[0].answers == {
        "HOWMANY": "3",
        "WHATBEHAVIORSDOYOUSEE": ("EATING", "MOVING"),
    }
    assert single == QuestionAnswer("T1", (1,), multiple=False)
    assert multiple == QuestionAnswer("T2", (0, 2), multiple=True)
    assert isinstance(drawing, DrawingAnswer)
    (box,) = drawing.rectangles
    assert (box.tool, box.x, box.y, box.width, box.height, box.frame) == (0, 10.5, 20, 30, 40.25, 2)


def test_volunteers_ip_addresses_are_in_no_parsed_structure() -> None:
    survey = simulate(subjects=20, votes=3, volunteers=10, anonymous_fraction=0.5, seed=3)
    text = export_text(survey)
    assert "198.51.100." in text
    classifications = list(read_classifications(io.StringIO(text)))
    for classification in classifications:
        assert "198.51.100." not in repr(classification)
        for value in dataclasses.asdict(classification).values():
            assert "198.51.100." not in repr(value)
    votes = read_survey_votes(io.StringIO(text))
    held = [
        repr(votes.volunteers),
        repr(votes.choices),
        *(repr(c.values) for c in votes.answers.values()),
    ]
    assert not any("198.51.100." in h for h in held)
    # Anonymous volunteers are told apart by their not-logged-in name, never by address.
    assert any(v.startswith("not-logged-in-") for v in votes.volunteers)


def test_the_fast_survey_reader_gives_what_the_full_reader_gives() -> None:
    survey = simulate(
        subjects=60,
        votes=4,
        volunteers=12,
        blank_fraction=0.2,
        second_species_fraction=0.3,
        repeat_fraction=0.2,
        anonymous_fraction=0.3,
        seed=5,
    )
    text = export_text(survey)
    fast = read_survey_votes(io.StringIO(text))
    full = survey_votes(read_classifications(io.StringIO(text)))
    assert tally_survey(fast).as_dict() == tally_survey(full).as_dict()
    assert fast.n_classifications == full.n_classifications == len(survey.rows)
    assert sorted(fast.volunteers) == sorted(full.volunteers)
    np.testing.assert_array_equal(np.sort(fast.created_at), np.sort(full.created_at))


def test_rows_of_other_workflows_are_left_out() -> None:
    text = export(
        {"annotations": tasks_json(SURVEY)},
        {"annotations": tasks_json(SURVEY), "workflow_id": 12, "classification_id": 9},
    )
    assert [
        c.classification_id for c in read_classifications(io.StringIO(text), workflow_id=12)
    ] == [9]
    assert read_survey_votes(io.StringIO(text), workflow_id=11).n_classifications == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no header row"),
        ("classification_id,user_name\n1,ana\n", "missing user_id"),
        (export({"annotations": "[{"}), "line 2, column 'annotations': not valid JSON"),
        (export({"annotations": '{"task": "T0"}'}), "annotations must be a JSON list"),
        (export({"annotations": '[{"task": "T0"}]'}), 'with "task" and "value"'),
        (
            export({"annotations": tasks_json({"task": "T0", "value": [{"choice": 3.5}]})}),
            "a survey choice must be a string",
        ),
        (
            export({"annotations": tasks_json({"task": "T0", "value": [{"nothing": 1}]})}),
            "each mark must be an object with a choice",
        ),
        (
            export(
                {"annotations": tasks_json({"task": "T0", "value": [{"choice": "ZEBRA"}] * 501})}
            ),
            "more than 500 marks",
        ),
        (
            export(
                {
                    "annotations": tasks_json(
                        {
                            "task": "T3",
                            "value": [{"tool": 0, "x": 1, "y": 1, "width": -4, "height": 2}],
                        }
                    )
                }
            ),
            "negative size",
        ),
        (
            export(
                {"annotations": tasks_json({"task": "T3", "value": [{"tool": 0, "x": 1, "y": 2}]})}
            ),
            "lacks width, height",
        ),
        (
            export(
                {
                    "annotations": tasks_json(
                        {
                            "task": "T3",
                            "value": [{"tool": 0, "x": "NaN", "y": 1, "width": 1, "height": 1}],
                        }
                    )
                }
            ),
            "x must be a number",
        ),
        (
            export({"annotations": tasks_json(SURVEY), "subject_ids": "abc"}),
            "'abc' is not an integer",
        ),
        (
            export({"annotations": tasks_json(SURVEY), "created_at": "yesterday"}),
            "not a timestamp",
        ),
        (
            export({"annotations": tasks_json(SURVEY), "user_id": "", "user_name": ""}),
            "neither user_id",
        ),
        (export({"annotations": "[" + " " * (2 << 20) + "]"}), "not readable as CSV"),
        (export({"annotations": tasks_json(SURVEY)}) + '1,"unclosed\n', "not readable as CSV"),
        (
            export({"annotations": tasks_json(SURVEY)}) + "1,2,3\n",
            "line 3: 3 fields where the header has 14",
        ),
    ],
)
def test_hostile_exports_fail_with_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ExportError, match=message.replace("(", r"\(").replace("[", r"\[")):
        list(read_classifications(io.StringIO(text)))
    with pytest.raises(ExportError, match=message.replace("(", r"\(").replace("[", r"\[")):
        read_survey_votes(io.StringIO(text))


def test_an_error_names_the_line_of_the_bad_row() -> None:
    text = export(
        {"annotations": tasks_json(SURVEY)},
        {"annotations": tasks_json(SURVEY)},
        {"annotations": tasks_json(SURVEY), "classification_id": "x1"},
    )
    with pytest.raises(ExportError) as raised:
        read_survey_votes(io.StringIO(text))
    assert raised.value.line == 4
    assert raised.value.status_code == 422
    assert "column 'classification_id'" in raised.value.detail


def test_classifications_stream_one_row_at_a_time() -> None:
    good = export({"annotations": tasks_json(SURVEY)})
    rows = iter([*good.splitlines(keepends=True), "this row is broken,\n"])
    reader = read_classifications(rows)
    first = next(reader)
    assert isinstance(first, Classification)
    with pytest.raises(ExportError):
        next(reader)


def test_an_export_that_is_not_utf8_says_so() -> None:
    text = export({"annotations": tasks_json(SURVEY)}).encode() + b'1,"\xff\xfe",7\n'
    with pytest.raises(ExportError, match="not UTF-8 text"):
        list(read_classifications(io.TextIOWrapper(io.BytesIO(text), encoding="utf-8")))
    with pytest.raises(ExportError, match="not UTF-8 text"):
        read_survey_votes(io.TextIOWrapper(io.BytesIO(text), encoding="utf-8"))
