"""What a media or observation list can be narrowed by, checked before any query runs."""

from __future__ import annotations

import inspect
import operator
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from sqlalchemy import ColumnElement, and_, exists, or_
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from wildlens.catalogue.models import Deployment, Media, ObjectFeature, Observation, Taxon
from wildlens.catalogue.taxa.repository import descendants_cte
from wildlens.common.errors import FieldError, Invalid
from wildlens.common.http import Timestamp

__all__ = [
    "FeatureCondition",
    "Filters",
    "ListOrder",
    "filters",
    "in_taxon",
    "media_conditions",
    "observation_conditions",
    "problem",
    "selection_filters",
]

ObservationType = Literal["animal", "human", "vehicle", "blank", "unknown", "unclassified"]
ClassificationMethod = Literal["human", "machine"]
MediaStatus = Literal["recorded", "analyzed"]
VerificationState = Literal["predicted", "validated", "dubious", "discarded"]


# ``name<op>value``: a feature's name (letters, digits, ``_``, ``.``, ``-``), a comparison,
# a number.
_FEATURE_CONDITION = re.compile(
    r"^(?P<name>[A-Za-z0-9_.-]{1,100})\s*(?P<op>>=|<=|!=|>|<|=)\s*(?P<value>[-+0-9.eE]+)$"
)
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
    "=": operator.eq,
}
_SORT = re.compile(
    r"^(?P<desc>-?)(?:captured_at|feature:(?P<name>[A-Za-z0-9_.-]{1,100})"
    r"|score:(?P<score>[^\x00-\x1f]{1,200}))$"
)
FEATURE_HELP = (
    "An object feature's condition, `name<op>number` with op one of `>`, `>=`, `<`, `<=`, "
    "`=`, `!=` (`area>100`, `esd<=2.5`); repeat for several, all must hold. Media without "
    "the feature do not match."
)
SORT_HELP = (
    "`captured_at` (the default: capture order), `feature:NAME` to order by an object "
    "feature (objects without it last, by id), or `score:TAXON` to order by the probability "
    "the classifier's top-k gave the taxon (a scientific name, a model's label or a taxon id; "
    "those without a score last, by id); a leading `-` orders from the highest value."
)


@dataclass(frozen=True)
class FeatureCondition:
    name: str
    op: str
    value: float

    def sql(self) -> ColumnElement[bool]:
        """SQL on ``Media``: the medium has this feature, meeting the condition."""
        compare = _OPERATORS[self.op]
        # Its own alias: a list sorted by a feature joins the table itself.
        feature = aliased(ObjectFeature)
        return exists().where(
            col(feature.media_id) == col(Media.id),
            col(feature.name) == self.name,
            compare(col(feature.value), self.value),
        )


@dataclass(frozen=True)
class ListOrder:
    """The order a list is read in: capture order, by one feature's value, or by the
    classifier's probability for one taxon (``score``: a scientific name or label)."""

    feature: str | None = None
    descending: bool = False
    score: str | None = None


@dataclass(frozen=True)
class Filters:
    location_id: uuid.UUID | None = None
    deployment_id: uuid.UUID | None = None
    captured_from: datetime | None = None
    captured_to: datetime | None = None
    taxon_id: uuid.UUID | None = None
    observation_type: ObservationType | None = None
    classification_method: ClassificationMethod | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    status: MediaStatus | None = None
    verification_state: VerificationState | None = None
    features: tuple[FeatureCondition, ...] = ()
    order: ListOrder = ListOrder()

    @property
    def on_observations(self) -> bool:
        return any(
            v is not None
            for v in (
                self.taxon_id,
                self.observation_type,
                self.classification_method,
                self.min_confidence,
                self.max_confidence,
                self.verification_state,
            )
        )


def filters(
    location_id: Annotated[uuid.UUID | None, Query(description="Media of this location")] = None,
    deployment_id: Annotated[
        uuid.UUID | None, Query(description="Media of this deployment")
    ] = None,
    captured_from: Annotated[
        Timestamp | None,
        Query(description="Captured at or after this time (RFC 3339 with offset)"),
    ] = None,
    captured_to: Annotated[
        Timestamp | None,
        Query(description="Captured before this time (RFC 3339 with offset)"),
    ] = None,
    taxon_id: Annotated[
        uuid.UUID | None,
        Query(description="Observations of this taxon or any taxon below it"),
    ] = None,
    observation_type: Annotated[ObservationType | None, Query()] = None,
    classification_method: Annotated[ClassificationMethod | None, Query()] = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    max_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
    status: Annotated[MediaStatus | None, Query(description="The media's status")] = None,
    verification_state: Annotated[
        VerificationState | None,
        Query(description="Observations in this verification state"),
    ] = None,
    feature: Annotated[list[str] | None, Query(description=FEATURE_HELP)] = None,
    sort: Annotated[str, Query(description=SORT_HELP, max_length=120)] = "captured_at",
) -> Filters:
    """The list filters from the query string (FastAPI answers 422 for malformed ones)."""
    problems: list[FieldError] = []
    if captured_from and captured_to and captured_from >= captured_to:
        problems.append(problem("captured_to", "must be later than captured_from"))
    if min_confidence is not None and max_confidence is not None:
        if min_confidence > max_confidence:
            problems.append(problem("max_confidence", "must not be below min_confidence"))
    conditions: list[FeatureCondition] = []
    for text in feature or []:
        match = _FEATURE_CONDITION.match(text.strip())
        value = _number(match["value"]) if match else None
        if match is None or value is None:
            problems.append(
                problem("feature", f"{text!r} is not name<op>number (area>100, esd<=2.5)")
            )
            continue
        conditions.append(FeatureCondition(match["name"], match["op"], value))
    order = _SORT.match(sort)
    if order is not None and order["score"] is not None and not order["score"].strip():
        order = None
    if order is None:
        problems.append(
            problem("sort", f"{sort!r} is not captured_at, feature:NAME or score:TAXON")
        )
    if problems:
        raise Invalid("; ".join(p.message for p in problems), fields=problems)
    assert order is not None
    return Filters(
        location_id=location_id,
        deployment_id=deployment_id,
        captured_from=captured_from,
        captured_to=captured_to,
        taxon_id=taxon_id,
        observation_type=observation_type,
        classification_method=classification_method,
        min_confidence=min_confidence,
        max_confidence=max_confidence,
        status=status,
        verification_state=verification_state,
        features=tuple(conditions),
        order=ListOrder(
            order["name"], bool(order["desc"]), order["score"].strip() if order["score"] else None
        ),
    )


def selection_filters(**given: Any) -> Filters:
    """The list filters without ``sort``: what a selection holds, whatever its order."""
    return filters(**given, sort="captured_at")


# FastAPI reads a dependency's parameters from its signature: the list's, less ``sort``.
selection_filters.__signature__ = inspect.signature(filters).replace(  # type: ignore[attr-defined]
    parameters=[p for p in inspect.signature(filters).parameters.values() if p.name != "sort"]
)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def problem(name: str, message: str) -> FieldError:
    """One query parameter's problem as an ``Invalid`` error lists it."""
    return FieldError(location=["query", name], message=f"{name} {message}", type="value_error")


def media_conditions(f: Filters) -> list[ColumnElement[bool]]:
    """Conditions on ``Media`` (location through the media's deployment)."""
    where: list[ColumnElement[bool]] = []
    if f.deployment_id is not None:
        where.append(col(Media.deployment_id) == f.deployment_id)
    if f.location_id is not None:
        at_location = select(Deployment.id).where(Deployment.location_id == f.location_id)
        where.append(col(Media.deployment_id).in_(at_location))
    if f.captured_from is not None:
        where.append(col(Media.captured_at) >= f.captured_from)
    if f.captured_to is not None:
        where.append(col(Media.captured_at) < f.captured_to)
    if f.status is not None:
        where.append(col(Media.status) == f.status)
    where += [condition.sql() for condition in f.features]
    return where


def in_taxon(taxon_id: Any, name: Any, taxon: uuid.UUID) -> ColumnElement[bool]:
    """Rows of ``taxon`` or any taxon below it, given their taxon id and name columns.

    Rows carry a taxon id when whoever recorded them resolved one; the rest (older rows,
    labels from a model with no label map) match by scientific name.
    """
    subtree = select(descendants_cte(taxon).c.id)
    names = select(Taxon.scientific_name).where(col(Taxon.id).in_(subtree))
    return or_(taxon_id.in_(subtree), and_(taxon_id.is_(None), name.in_(names)))


def observation_conditions(f: Filters) -> list[ColumnElement[bool]]:
    """Conditions on ``Observation`` alone."""
    where: list[ColumnElement[bool]] = []
    if f.taxon_id is not None:
        where.append(
            in_taxon(col(Observation.taxon_id), col(Observation.scientific_name), f.taxon_id)
        )
    if f.observation_type is not None:
        where.append(col(Observation.observation_type) == f.observation_type)
    if f.classification_method is not None:
        where.append(col(Observation.classification_method) == f.classification_method)
    if f.min_confidence is not None:
        where.append(col(Observation.confidence) >= f.min_confidence)
    if f.max_confidence is not None:
        where.append(col(Observation.confidence) <= f.max_confidence)
    if f.verification_state is not None:
        where.append(col(Observation.verification_state) == f.verification_state)
    return where
