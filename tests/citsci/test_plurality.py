"""Plurality consensus against values worked out by hand, Snapshot Serengeti's way."""

from __future__ import annotations

import io
import json
import math

import pytest

from tests.citsci.test_zooniverse_export import export
from wildlens.citsci.aggregation import (
    ExportError,
    SubjectConsensus,
    aggregate_survey_export,
    plurality_consensus,
    read_survey_votes,
)


def survey(*marks: tuple[str, str | None]) -> str:
    value = [{"choice": c, "answers": {"HOWMANY": n} if n else {}, "filters": {}} for c, n in marks]
    return json.dumps([{"task": "T0", "value": value}])


def classification(
    subject: int, volunteer: int, *marks: tuple[str, str | None], **extra: object
) -> dict[str, object]:
    return {
        "subject_ids": str(subject),
        "user_id": str(volunteer),
        "user_name": f"v{volunteer}",
        "annotations": survey(*marks),
        "classification_id": subject * 100 + volunteer,
        **extra,
    }


def consensus_of(*rows: dict[str, object]) -> dict[int, SubjectConsensus]:
    result = aggregate_survey_export(io.StringIO(export(*rows)))
    return {s.subject_id: s for s in result.plurality.subjects()}


def test_one_species_by_votes_with_median_count_evenness_and_support() -> None:
    # Subject 1: five volunteers, three say zebra, one wildebeest, one topi.
    subjects = consensus_of(
        classification(1, 1, ("ZEBRA", "1")),
        classification(1, 2, ("ZEBRA", "2")),
        classification(1, 3, ("ZEBRA", "2")),
        classification(1, 4, ("WILDEBEEST", "5")),
        classification(1, 5, ("TOPI", "1")),
    )
    s = subjects[1]
    assert (s.classifications, s.blanks, s.votes) == (5, 0, 5)
    (zebra,) = s.species
    assert zebra.choice == "ZEBRA"
    assert zebra.votes == 3
    assert zebra.fraction_support == pytest.approx(0.6)
    # counts 1, 2, 2: the median is 2
    assert (zebra.count_min, zebra.count_median, zebra.count_max) == ("1", "2", "2")
    # Pielou: H' = -(0.6 ln 0.6 + 2 * 0.2 ln 0.2) = 0.950271, over ln 3 = 1.098612
    assert s.pielou_evenness == pytest.approx(0.864973, abs=1e-6)
    assert s.pielou_evenness == pytest.approx(
        -(0.6 * math.log(0.6) + 2 * 0.2 * math.log(0.2)) / math.log(3)
    )


def test_unanimous_votes_have_evenness_zero_and_even_counts_round_up() -> None:
    subjects = consensus_of(
        classification(2, 1, ("LIONFEMALE", "3")),
        classification(2, 2, ("LIONFEMALE", "1150")),  # Zooniverse's key for 11-50
        classification(2, 3, ("LIONFEMALE", "4")),
        classification(2, 4, ("LIONFEMALE", "2")),
    )
    s = subjects[2]
    assert s.pielou_evenness == 0.0
    (lion,) = s.species
    assert lion.fraction_support == 1.0
    # counts 2, 3, 4, 11-50: the two middle buckets are 3 and 4; rounded up, 4
    assert (lion.count_min, lion.count_median, lion.count_max) == ("2", "4", "11-50")


def test_the_number_of_species_is_the_median_number_reported() -> None:
    # Reported species per classification: 2, 2, 1 -> median 2: zebra and wildebeest win.
    subjects = consensus_of(
        classification(3, 1, ("ZEBRA", "10"), ("WILDEBEEST", "51")),
        classification(3, 2, ("ZEBRA", "10"), ("WILDEBEEST", "1150")),
        classification(3, 3, ("ZEBRA", "9")),
    )
    s = subjects[3]
    assert [(x.choice, x.votes) for x in s.species] == [("ZEBRA", 3), ("WILDEBEEST", 2)]
    assert [x.fraction_support for x in s.species] == pytest.approx([1.0, 2 / 3])
    assert s.species[0].count_median == "10"
    # wildebeest counts 11-50 and 51+: rounded up, 51+
    assert s.species[1].count_median == "51+"
    # votes 3 and 2 over two species: H' = -(0.6 ln 0.6 + 0.4 ln 0.4) / ln 2
    assert s.pielou_evenness == pytest.approx(0.970951, abs=1e-6)


def test_blanks_are_counted_apart_and_an_all_blank_subject_is_blank() -> None:
    subjects = consensus_of(
        classification(4, 1, ("NTHNGHR", None)),
        classification(4, 2),
        classification(4, 3, ("NTHNGHR", None)),
        classification(5, 1, ("NTHNGHR", None)),
        classification(5, 2, ("BUFFALO", "2")),
        classification(5, 3, ("BUFFALO", "3")),
        classification(5, 4),
    )
    blank, mostly_blank = subjects[4], subjects[5]
    assert blank.blank
    assert (blank.classifications, blank.blanks, blank.fraction_blank) == (3, 3, 1.0)
    assert mostly_blank.fraction_blank == pytest.approx(0.5)
    (buffalo,) = mostly_blank.species
    # Support is over the non-blank classifications: 2 of 2.
    assert buffalo.fraction_support == 1.0
    assert buffalo.count_median == "3"


def test_a_volunteers_second_classification_of_a_subject_does_not_count() -> None:
    subjects = consensus_of(
        classification(6, 1, ("IMPALA", "1"), created_at="2026-05-01 10:00:00 UTC"),
        classification(6, 2, ("IMPALA", "1")),
        classification(6, 3, ("TOPI", "1")),
        # volunteer 3 again, later, and volunteer 3 is not a third topi vote
        {
            **classification(6, 3, ("TOPI", "1")),
            "classification_id": 999,
            "created_at": "2026-05-02 10:00:00 UTC",
        },
    )
    s = subjects[6]
    assert s.classifications == 3
    assert [(x.choice, x.votes) for x in s.species] == [("IMPALA", 2)]


def test_ties_at_the_cut_are_broken_at_random_but_reproducibly() -> None:
    rows = [classification(7, v, (species, "1")) for v, species in enumerate(["ZEBRA", "TOPI"] * 2)]
    text = export(*rows)
    picks = {
        aggregate_survey_export(io.StringIO(text), seed=seed)
        .plurality.subjects()[0]
        .species[0]
        .choice
        for seed in range(20)
    }
    assert picks == {"ZEBRA", "TOPI"}
    again = {
        aggregate_survey_export(io.StringIO(text), seed=4).plurality.subjects()[0].species[0].choice
        for _ in range(3)
    }
    assert len(again) == 1


def test_a_count_outside_the_buckets_is_refused_clearly() -> None:
    votes = read_survey_votes(io.StringIO(export(classification(8, 1, ("ZEBRA", "lots")))))
    with pytest.raises(ExportError, match="count answer 'lots' is not one of the buckets"):
        plurality_consensus(votes)


def test_an_export_without_classifications_has_no_consensus() -> None:
    header_only = export().splitlines(keepends=True)[0]
    result = aggregate_survey_export(io.StringIO(header_only))
    assert result.plurality.subjects() == []
    assert result.tallies.as_dict() == {}
