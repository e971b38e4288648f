"""Classifications as Panoptes' API lists them read as the export's rows are: other workflows
left out, a volunteer who was not logged in named by the classification alone, and a resource that
is not a well-formed classification refused by its id, or, where the caller asks, left out and
counted."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.panoptes_standin import ExportRow
from wildlens.citsci.aggregation import ExportError, Skipped, SurveyAnswer
from wildlens.citsci.zooniverse.recent import latest_id, read_recent

SURVEY = [{"task": "T0", "value": [{"choice": "ZEBRA", "answers": {}, "filters": {}}]}]


def _row(n: int, workflow: str = "777", user_id: int | None = 7) -> dict[str, Any]:
    return ExportRow(
        classification_id=n,
        subject_id="1001",
        workflow_id=workflow,
        annotations=SURVEY,
        user_name=f"v{n}",
        user_id=user_id,
        user_ip="198.51.100.7",
        created_at="2026-05-01 10:00:00 UTC",
    ).resource()


def test_the_workflow_classifications_read_as_the_export_rows_are() -> None:
    listed = [_row(1), _row(2, workflow="778"), _row(3, user_id=None)]
    first, third = read_recent(listed, 777)
    assert (first.classification_id, first.volunteer, first.subject_ids) == (1, "user:7", (1001,))
    assert third.volunteer == "not-logged-in:3"
    assert first.created_at.isoformat() == "2026-05-01T10:00:00+00:00"
    (survey,) = first.annotations
    assert isinstance(survey, SurveyAnswer)
    assert survey.marks[0].choice == "ZEBRA"
    assert latest_id({1, 3}) == "3"
    assert latest_id(set()) is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "abc"}, "is not an integer"),
        ({"links": []}, "links must be an object"),
        ({"links": {"workflow": "777", "subjects": []}}, "links.subjects must list"),
        ({"annotations": {"task": "T0"}}, "annotations must be a JSON list"),
        ({"created_at": "yesterday"}, "is not a timestamp"),
        ({"metadata": "x"}, "metadata must be an object"),
    ],
)
def test_a_hostile_resource_is_refused_by_its_id(change: dict[str, Any], message: str) -> None:
    listed = [_row(1), {**_row(2), **change}]
    with pytest.raises(ExportError, match=message):
        list(read_recent(listed, 777))


def test_with_skipped_a_hostile_resource_is_left_out_and_counted_the_first_few_named() -> None:
    listed = [_row(1), *({**_row(n), "annotations": "T0"} for n in range(100, 125)), _row(2)]
    skipped = Skipped(keep=20)
    read = list(read_recent(listed, 777, skipped))
    assert [c.classification_id for c in read] == [1, 2]
    assert skipped.count == 25
    assert len(skipped.first) == 20
    assert skipped.first[0].startswith("classification 100: ")
    assert skipped.first[-1].startswith("classification 119: ")
