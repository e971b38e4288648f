"""A survey workflow's export aggregated in one pass: tallies and plurality consensus."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from wildlens.citsci.aggregation.annotations import TaskKind
from wildlens.citsci.aggregation.count_buckets import SERENGETI_BUCKETS, CountBuckets
from wildlens.citsci.aggregation.plurality import PluralityConsensus, plurality_consensus
from wildlens.citsci.aggregation.survey_export import read_survey_votes
from wildlens.citsci.aggregation.survey_tallies import SurveyTallies, tally_survey
from wildlens.citsci.aggregation.survey_votes import DEFAULT_BLANK_CHOICES, SurveyVotes

__all__ = ["SurveyAggregate", "aggregate_survey_export"]


@dataclass(frozen=True)
class SurveyAggregate:
    votes: SurveyVotes
    """Each volunteer's first classification of each subject."""
    tallies: SurveyTallies
    plurality: PluralityConsensus


def aggregate_survey_export(
    lines: Iterable[str],
    *,
    workflow_id: int | None = None,
    task: str | None = None,
    task_kinds: Mapping[str, TaskKind] | None = None,
    blank_choices: Iterable[str] = DEFAULT_BLANK_CHOICES,
    count_question: str | None = "HOWMANY",
    buckets: CountBuckets = SERENGETI_BUCKETS,
    seed: int = 0,
) -> SurveyAggregate:
    """Reads a classification export and aggregates one survey task of one workflow.

    The export streams through; only the votes are kept. Each volunteer counts once per
    subject (their first classification), as in Snapshot Serengeti and panoptes-aggregation.
    """
    votes = read_survey_votes(
        lines,
        workflow_id=workflow_id,
        task=task,
        task_kinds=task_kinds,
        blank_choices=blank_choices,
    ).first_per_volunteer()
    return SurveyAggregate(
        votes=votes,
        tallies=tally_survey(votes),
        plurality=plurality_consensus(
            votes, count_question=count_question, buckets=buckets, seed=seed
        ),
    )
