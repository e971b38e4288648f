"""When a subject has had enough volunteers: retirement rules, applied as classifications arrive.

Snapshot Serengeti retired an image (Swanson et al. 2015) when its first five
classifications all said "nothing here", when ten said nothing here in all, when ten
volunteers named the same species, or after 25 classifications whatever they said. Each
workflow sets its own numbers; ``None`` turns a rule off.

A ``RetirementTracker`` keeps a few counters per subject and answers, for every classification
as it comes, whether the subject retires now and why. Classifications of a retired subject
change nothing (Zooniverse may still deliver a few that were in flight).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "SERENGETI_RULES",
    "Retirement",
    "RetirementReason",
    "RetirementRules",
    "RetirementTracker",
    "WorkflowRetirement",
]


class RetirementReason(StrEnum):
    # Zooniverse's own names for retirement reasons, where it has one.
    BLANK = "blank"
    CONSENSUS_BLANK = "consensus_blank"
    CONSENSUS = "consensus"
    CLASSIFICATION_COUNT = "classification_count"


@dataclass(frozen=True)
class RetirementRules:
    """The numbers of one workflow's rules; ``None`` turns a rule off.

    Args:
        first_blank: retire as blank when the first this-many classifications are all blank.
        total_blank: retire as blank when this many classifications are blank in all.
        agreement: retire when this many classifications name the same species.
        max_classifications: retire after this many classifications, whatever they say.
    """

    first_blank: int | None = 5
    total_blank: int | None = 10
    agreement: int | None = 10
    max_classifications: int | None = 25

    def __post_init__(self) -> None:
        for name in ("first_blank", "total_blank", "agreement", "max_classifications"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a positive number of classifications or None")


SERENGETI_RULES = RetirementRules()


@dataclass(frozen=True, slots=True)
class Retirement:
    subject_id: int
    reason: RetirementReason
    classifications: int
    species: str | None = None
    """The species that reached agreement, for ``consensus``."""


@dataclass
class _SubjectState:
    classifications: int = 0
    blanks: int = 0
    only_blanks_so_far: bool = True
    votes: dict[str, int] = field(default_factory=dict)
    retired: Retirement | None = None


class RetirementTracker:
    """Counts one workflow's classifications per subject and retires subjects by its rules."""

    def __init__(self, rules: RetirementRules = SERENGETI_RULES) -> None:
        self.rules = rules
        self._subjects: dict[int, _SubjectState] = {}

    def retired(self, subject_id: int) -> Retirement | None:
        state = self._subjects.get(subject_id)
        return state.retired if state else None

    def observe(self, subject_id: int, species: Iterable[str]) -> Retirement | None:
        """Counts one classification (the species it named; none is blank).

        Returns the retirement when this classification retires the subject, else ``None``
        (also for classifications of a subject already retired, which are not counted).
        """
        state = self._subjects.get(subject_id)
        if state is None:
            state = self._subjects[subject_id] = _SubjectState()
        if state.retired is not None:
            return None
        rules = self.rules
        named = set(species)
        state.classifications += 1
        reason: RetirementReason | None = None
        agreed: str | None = None
        if not named:
            state.blanks += 1
        else:
            state.only_blanks_so_far = False
            for choice in named:
                state.votes[choice] = state.votes.get(choice, 0) + 1
                if rules.agreement is not None and state.votes[choice] >= rules.agreement:
                    reason, agreed = RetirementReason.CONSENSUS, choice
        if reason is None:
            if (
                rules.first_blank is not None
                and state.only_blanks_so_far
                and state.classifications >= rules.first_blank
            ):
                reason = RetirementReason.BLANK
            elif rules.total_blank is not None and state.blanks >= rules.total_blank:
                reason = RetirementReason.CONSENSUS_BLANK
            elif (
                rules.max_classifications is not None
                and state.classifications >= rules.max_classifications
            ):
                reason = RetirementReason.CLASSIFICATION_COUNT
        if reason is None:
            return None
        state.retired = Retirement(subject_id, reason, state.classifications, agreed)
        return state.retired


class WorkflowRetirement:
    """One tracker per workflow, each with the workflow's rules (or the default)."""

    def __init__(
        self,
        rules: Mapping[int, RetirementRules] | None = None,
        default: RetirementRules = SERENGETI_RULES,
    ) -> None:
        self._rules = dict(rules or {})
        self._default = default
        self._trackers: dict[int, RetirementTracker] = {}

    def tracker(self, workflow_id: int) -> RetirementTracker:
        tracker = self._trackers.get(workflow_id)
        if tracker is None:
            tracker = self._trackers[workflow_id] = RetirementTracker(
                self._rules.get(workflow_id, self._default)
            )
        return tracker

    def observe(
        self, workflow_id: int, subject_id: int, species: Iterable[str]
    ) -> Retirement | None:
        return self.tracker(workflow_id).observe(subject_id, species)
