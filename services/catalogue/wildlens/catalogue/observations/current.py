"""Which of a medium's observations make its label now.

A person's label always outranks a machine's: where a medium has a human-classified
observation (an expert's correction or validation, or a volunteer consensus), its current
label is the human one, whatever model versions analyse it later. Otherwise it is the
newest model run's. Discarded observations never count. Nothing is removed to get there:
older runs and replaced labels stay stored and in the history.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol, TypeVar

from wildlens.catalogue.models import VOLUNTEERS_PREFIX

__all__ = ["VOLUNTEERS_PREFIX", "Labelled", "current_observations", "is_volunteer"]


class Labelled(Protocol):
    """What deciding a medium's current label reads of an observation: a whole row, or the
    few columns a bulk read takes."""

    @property
    def model_run_id(self) -> uuid.UUID | None: ...
    @property
    def classification_method(self) -> str: ...
    @property
    def classified_by(self) -> str: ...
    @property
    def classified_at(self) -> datetime: ...
    @property
    def verification_state(self) -> str: ...


L = TypeVar("L", bound=Labelled)


def is_volunteer(observation: Labelled) -> bool:
    return observation.classification_method == "human" and observation.classified_by.startswith(
        VOLUNTEERS_PREFIX
    )


def current_observations(observations: Iterable[L]) -> list[L]:
    """The observations of one medium that make its current label."""
    alive = [o for o in observations if o.verification_state != "discarded"]
    human = [o for o in alive if o.classification_method == "human"]
    if human:
        return human
    runs: dict[uuid.UUID | None, list[L]] = {}
    for o in alive:
        runs.setdefault(o.model_run_id, []).append(o)
    if not runs:
        return []

    def newest(group: list[L]) -> datetime:
        return max(o.classified_at for o in group)

    return max(runs.values(), key=newest)
