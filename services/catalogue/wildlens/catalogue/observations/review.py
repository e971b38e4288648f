"""The review queue: a project's unverified media, those where a person helps most first.

A medium is unverified while no person has judged any of its observations (validated,
corrected, doubted or discarded one) and no expert label is on it; a volunteers' consensus
(``classified_by`` starting ``volunteers:``) is a second opinion, not a verification. Media
the machine found empty have no observation to judge and are not queued.

Each medium's score is the sum of the reasons it has, each explained:

* ``low_confidence`` (0..1): one minus the lowest certainty among the current machine
  observations, certainty being the detector's confidence times the classifier's probability;
* ``high_entropy`` (0..0.5): half the highest normalised entropy of the current machine
  observations' top-k and the probability left outside it (``media.uncertainty``);
* ``small_margin`` (0..0.5): half of one minus their smallest margin between the classifier's
  first and second label;
* ``volunteer_disagreement`` (1): the volunteers' consensus names other species than the model;
* ``model_disagreement`` (0.5): model versions that analysed the medium name different species;
* ``rare_taxon`` (0..0.5): the model's species has few validated observations in the project,
  ``0.5 / (1 + validated)``, so a species never confirmed there weighs most;
* ``not_analysed`` (1): no detector has analysed the medium and nobody has labelled it (the
  platform runs without a detector, or has not reached it yet): a person can.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Observation
from wildlens.catalogue.observations.current import (
    current_observations,
    is_volunteer,
)
from wildlens.catalogue.observations.repository import ranked, review_rows, validated_counts
from wildlens.catalogue.observations.repository.review_order import (
    DECIMALS,
    ENTROPY,
    MARGIN,
    MODEL_DISAGREEMENT,
    NOT_ANALYSED,
    RARITY,
    VOLUNTEER_DISAGREEMENT,
)
from wildlens.catalogue.observations.schemas import ReviewItem, ReviewReason
from wildlens.common.http.pagination import PageParams

__all__ = ["Explained", "explained_queue", "review_queue"]


@dataclass(frozen=True)
class _Species:
    taxon_id: uuid.UUID | None
    name: str

    @property
    def key(self) -> str:
        return str(self.taxon_id) if self.taxon_id else self.name


def _species(observations: list[Observation]) -> dict[str, _Species]:
    found = {}
    for o in observations:
        if o.observation_type == "animal" and (o.taxon_id or o.scientific_name):
            s = _Species(o.taxon_id, o.scientific_name)
            found[s.key] = s
    return found


def _names(species: dict[str, _Species]) -> str:
    return ", ".join(sorted(s.name or s.key for s in species.values())) or "no species"


def _score(
    observations: list[Observation], validated: dict[str, int]
) -> tuple[list[ReviewReason], list[Observation], dict[str, _Species]]:
    machine = [o for o in observations if o.classification_method == "machine"]
    volunteers = [o for o in observations if is_volunteer(o)]
    current = current_observations(machine)
    model_says = _species(current)
    reasons: list[ReviewReason] = []

    certainties = [
        (o.confidence if o.confidence is not None else 1.0)
        * (o.classification_confidence if o.classification_confidence is not None else 1.0)
        for o in current
    ]
    if certainties and min(certainties) < 1.0:
        lowest = min(certainties)
        reasons.append(
            ReviewReason(
                reason="low_confidence",
                weight=round(1.0 - lowest, DECIMALS),
                detail=f"the least certain machine observation has certainty {lowest:.2f}",
            )
        )

    entropies = [o.classification_entropy for o in current if o.classification_entropy is not None]
    if entropies and max(entropies) > 0.0:
        highest = max(entropies)
        reasons.append(
            ReviewReason(
                reason="high_entropy",
                weight=round(ENTROPY * highest, DECIMALS),
                detail=f"the classifier's top labels have normalised entropy {highest:.2f}",
            )
        )
    margins = [o.classification_margin for o in current if o.classification_margin is not None]
    if margins and min(margins) < 1.0:
        smallest = min(margins)
        reasons.append(
            ReviewReason(
                reason="small_margin",
                weight=round(MARGIN * (1.0 - smallest), DECIMALS),
                detail=f"the classifier's first label leads its second by {smallest:.2f}",
            )
        )

    volunteers_say = _species(volunteers)
    if volunteers and set(volunteers_say) != set(model_says):
        reasons.append(
            ReviewReason(
                reason="volunteer_disagreement",
                weight=VOLUNTEER_DISAGREEMENT,
                detail=(
                    f"volunteers say {_names(volunteers_say)}; the model says {_names(model_says)}"
                ),
            )
        )

    runs: dict[uuid.UUID | None, list[Observation]] = defaultdict(list)
    for o in machine:
        if o.verification_state != "discarded":
            runs[o.model_run_id].append(o)
    verdicts = {
        runs_observations[0].classified_by: _species(runs_observations)
        for runs_observations in runs.values()
    }
    if len({frozenset(v) for v in verdicts.values()}) > 1:
        said = "; ".join(f"{model} says {_names(v)}" for model, v in sorted(verdicts.items()))
        reasons.append(
            ReviewReason(reason="model_disagreement", weight=MODEL_DISAGREEMENT, detail=said)
        )

    if model_says:
        rarest = min(model_says.values(), key=lambda s: validated.get(s.key, 0))
        n = validated.get(rarest.key, 0)
        reasons.append(
            ReviewReason(
                reason="rare_taxon",
                weight=round(RARITY / (1 + n), DECIMALS),
                detail=f"{rarest.name or rarest.key} has {n} validated observations in the project",
            )
        )
    return reasons, current, model_says


@dataclass(frozen=True)
class Explained:
    """One medium of the queue: its explained item, its current machine observations and the
    fewest validated observations in the project among the species they name (None: none)."""

    item: ReviewItem
    current: list[Observation]
    rarest_validated: int | None


async def review_queue(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[ReviewItem], str | None]:
    """A page of the queue's unverified media, highest score first, then by id, each score
    explained, and the cursor of the next page.

    The database orders the whole queue from each medium's kept score parts, refreshed by the
    caller (``review_scores``, ``review_order``); only the page's media are loaded and
    explained here.
    """
    explained, next_cursor = await explained_queue(session, project_id, page)
    return [e.item for e in explained], next_cursor


async def explained_queue(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[Explained], str | None]:
    """``review_queue``'s page with what each item was explained from."""
    ranks, next_cursor = await ranked(session, project_id, page)
    by_media, about = await review_rows(session, [m for m, _ in ranks])
    validated = await validated_counts(session, project_id)
    items: list[Explained] = []
    for media_id, score in ranks:
        reasons, current, model_says = _score(by_media[media_id], validated)
        volunteers = [
            o for o in by_media[media_id] if is_volunteer(o) and o.verification_state != "discarded"
        ]
        captured_at: datetime | None = about[media_id][0]
        if not by_media[media_id] and about[media_id][2] == "recorded":
            reasons = [
                ReviewReason(
                    reason="not_analysed",
                    weight=NOT_ANALYSED,
                    detail="no detector has analysed it yet; label it here, or add a detector",
                )
            ]
        item = ReviewItem(
            media_id=media_id,
            event_id=about[media_id][1],
            captured_at=captured_at,
            score=score,
            reasons=sorted(reasons, key=lambda r: -r.weight),
            observation_ids=[o.id for o in current],
            scientific_names=sorted({s.name for s in model_says.values() if s.name}),
            volunteer_observation_ids=[o.id for o in volunteers],
            volunteer_scientific_names=sorted(
                {o.scientific_name for o in volunteers if o.scientific_name}
            ),
        )
        rarest = min((validated.get(k, 0) for k in model_says), default=None)
        items.append(Explained(item, current, rarest))
    return items, next_cursor
