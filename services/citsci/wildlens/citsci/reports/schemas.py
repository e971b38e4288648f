"""The reports as the API answers them (JSON; CSV gives the same rows)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

__all__ = [
    "ConfusionCell",
    "ExpertAgreementReport",
    "SubjectAgreement",
    "SubjectReport",
    "VolunteerReport",
    "VolunteerSkill",
]


class SubjectAgreement(BaseModel):
    subject_id: uuid.UUID
    subject_set_id: uuid.UUID
    state: str
    media_ids: list[uuid.UUID]
    classifications: int
    # Classifications naming each species, and those saying nothing is there.
    votes: dict[str, int]
    nothing_here: int
    # The share of classifications giving the answer most gave (an answer is the set of
    # species named; "nothing here" is one); null before any classification.
    agreement: float | None
    # Pielou's evenness of the votes over the species named: 0 when one species was named
    # (full agreement), 1 when votes were spread evenly.
    evenness: float
    # The species the published consensus chose (empty: nothing here) and how; null until
    # the subject retires.
    consensus: list[str] | None
    method: str | None
    retirement_reason: str | None


class SubjectReport(BaseModel):
    project_id: uuid.UUID
    items: list[SubjectAgreement]
    # The next page's cursor (``?cursor=``); None on the last page.
    next_cursor: str | None = None


class VolunteerSkill(BaseModel):
    volunteer: str
    classifications: int
    # Gold-standard subjects (an expert's answer known) they classified, and how many they
    # answered as the expert did.
    gold_classified: int
    gold_correct: int
    gold_accuracy: float | None
    # Their expected accuracy as Dawid-Skene estimates it over the project's classifications,
    # the gold standard held at the expert's answer.
    skill: float
    # Retired subjects they classified, and how many they answered as the consensus.
    retired_classified: int
    agreed_with_consensus: int
    agreement: float | None


class VolunteerReport(BaseModel):
    project_id: uuid.UUID
    items: list[VolunteerSkill]
    # The next page's cursor (``?cursor=``); None on the last page.
    next_cursor: str | None = None


class ConfusionCell(BaseModel):
    # What the expert said and what the volunteers' consensus said (species sorted; empty:
    # nothing here), and of how many subjects.
    expert: list[str]
    volunteers: list[str]
    subjects: int


class ExpertAgreementReport(BaseModel):
    project_id: uuid.UUID
    # Retired subjects whose media an expert has judged too.
    compared: int
    agreed: int
    agreement: float | None
    # A page of the confusion's cells (the figures above count them all).
    confusion: list[ConfusionCell]
    # The next page's cursor (``?cursor=``); None on the last page.
    next_cursor: str | None = None
