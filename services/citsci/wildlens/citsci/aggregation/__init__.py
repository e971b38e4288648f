"""Aggregating volunteers' classifications into consensus, from Zooniverse or from Wildlens.

Reading Zooniverse classification exports (``read_classifications``), survey votes as
arrays (``survey_votes``), per-subject tallies as panoptes-aggregation gives them
(``tally_survey``), Snapshot Serengeti's plurality consensus (``plurality_consensus``),
retirement rules applied as classifications arrive (``RetirementTracker``), skill-weighted
consensus (``dawid_skene``) and box consensus for drawing tasks (``box_consensus``).

Nothing here touches the database or the bus: the service layers call it with classifications
and store what it returns.
"""

from wildlens.citsci.aggregation.annotations import (
    Annotation,
    DrawingAnswer,
    QuestionAnswer,
    Rectangle,
    SurveyAnswer,
    SurveyMark,
    TaskKind,
    parse_annotations,
)
from wildlens.citsci.aggregation.box_consensus import BoxCluster, box_consensus, iou_matrix
from wildlens.citsci.aggregation.count_buckets import SERENGETI_BUCKETS, CountBuckets
from wildlens.citsci.aggregation.dawid_skene import (
    DawidSkeneResult,
    ErrorCounts,
    dawid_skene,
    gold_accuracy,
    gold_error_counts,
)
from wildlens.citsci.aggregation.errors import ExportError, Skipped, skip_or_raise
from wildlens.citsci.aggregation.plurality import (
    PluralityConsensus,
    SpeciesConsensus,
    SubjectConsensus,
    plurality_consensus,
)
from wildlens.citsci.aggregation.retirement import (
    SERENGETI_RULES,
    Retirement,
    RetirementReason,
    RetirementRules,
    RetirementTracker,
    WorkflowRetirement,
)
from wildlens.citsci.aggregation.survey_aggregate import SurveyAggregate, aggregate_survey_export
from wildlens.citsci.aggregation.survey_export import read_survey_votes
from wildlens.citsci.aggregation.survey_tallies import SurveyTallies, tally_survey
from wildlens.citsci.aggregation.survey_votes import (
    DEFAULT_BLANK_CHOICES,
    SurveyVotes,
    SurveyVotesBuilder,
    named_species,
    survey_votes,
)
from wildlens.citsci.aggregation.zooniverse_export import (
    EXPORT_COLUMNS,
    Classification,
    read_classifications,
)

__all__ = [
    "DEFAULT_BLANK_CHOICES",
    "EXPORT_COLUMNS",
    "SERENGETI_BUCKETS",
    "SERENGETI_RULES",
    "Annotation",
    "BoxCluster",
    "Classification",
    "CountBuckets",
    "DawidSkeneResult",
    "DrawingAnswer",
    "ErrorCounts",
    "ExportError",
    "PluralityConsensus",
    "QuestionAnswer",
    "Rectangle",
    "Retirement",
    "RetirementReason",
    "RetirementRules",
    "RetirementTracker",
    "Skipped",
    "SpeciesConsensus",
    "SubjectConsensus",
    "SurveyAggregate",
    "SurveyAnswer",
    "SurveyMark",
    "SurveyTallies",
    "SurveyVotes",
    "SurveyVotesBuilder",
    "TaskKind",
    "WorkflowRetirement",
    "aggregate_survey_export",
    "box_consensus",
    "dawid_skene",
    "gold_accuracy",
    "gold_error_counts",
    "iou_matrix",
    "named_species",
    "parse_annotations",
    "plurality_consensus",
    "read_classifications",
    "read_survey_votes",
    "skip_or_raise",
    "survey_votes",
    "tally_survey",
]
