"""Our per-subject survey counts equal panoptes-aggregation's on the same export.

panoptes-aggregation runs in its own environment (``make panoptes-aggregation-venv``; made
here if missing) as a subprocess: its ``extract_csv`` with the survey extractor, then its
``reduce_csv`` with the survey reducer, exactly as ``panoptes_aggregation extract`` and
``reduce`` run them.
"""

from __future__ import annotations

from pathlib import Path

from tests.citsci.panoptes_reference import panoptes_survey
from tests.citsci.zooniverse_exports import (
    WORKFLOW_ID,
    WORKFLOW_VERSION,
    simulate,
    write_export,
)
from wildlens.citsci.aggregation import read_survey_votes, tally_survey


def test_choice_and_answer_counts_equal_panoptes_aggregations(tmp_path: Path) -> None:
    survey = simulate(
        subjects=150,
        votes=5,
        volunteers=40,
        blank_fraction=0.2,
        second_species_fraction=0.25,
        repeat_fraction=0.1,
        anonymous_fraction=0.25,
        seed=1806,
    )
    export = write_export(survey, tmp_path / "classifications.csv")
    with export.open(newline="", encoding="utf-8") as lines:
        votes = read_survey_votes(lines, workflow_id=WORKFLOW_ID, task="T0")
    # panoptes-aggregation 5.3.1's reduce_csv counts a volunteer's repeated classification
    # of a subject again (its "first" filter is not applied there), so the comparison is of
    # all the votes; consensus counts each volunteer once (test_plurality.py).
    tallies = tally_survey(votes).as_dict()
    labels = sorted(
        {*votes.choices, *votes.answers, *(v for c in votes.answers.values() for v in c.values)}
    )
    reference = panoptes_survey(
        export, workflow_id=WORKFLOW_ID, version=WORKFLOW_VERSION, task="T0", labels=labels
    )
    slug = reference["slugs"]
    theirs = reference["reductions"]

    ours: dict[str, dict[str, dict[str, object]]] = {}
    marks = dict(zip(votes.subject_ids.tolist(), tally_survey(votes).marks.tolist(), strict=True))
    for subject, choices in tallies.items():
        for choice, entry in choices.items():
            row: dict[str, object] = {
                "choice_count": entry["choice_count"],
                "total_vote_count": marks[subject],
            }
            for question, counts in entry.items():
                if question == "choice_count":
                    continue
                assert isinstance(counts, dict)
                row[f"answers_{slug[question]}"] = {slug[a]: n for a, n in counts.items()}
            ours.setdefault(str(subject), {})[slug[choice]] = row

    # Subjects whose every classification marked nothing have no extract in panoptes either.
    assert set(ours) == set(theirs)
    assert len(ours) > 100
    assert ours == theirs
    # The export really exercised what matters: several species per subject, answers to
    # multiple-answer questions, "nothing here" marks and repeated classifications.
    assert any(len(choices) > 1 for choices in theirs.values())
    assert any(
        "answers_whatbehaviorsdoyousee" in row for c in theirs.values() for row in c.values()
    )
    assert any("nthnghr" in choices for choices in theirs.values())
    assert votes.first_per_volunteer().n_classifications < votes.n_classifications
