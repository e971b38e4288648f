"""The review queue's order computed from scratch, the way the catalogue computed it before
it kept each medium's score parts: one aggregate over every unverified observation of the
project, and the media nobody has analysed. Tests compare the maintained parts with it.

The reasons (see ``observations.review``), as sets compared by counting:

* ``low_confidence``: the lowest certainty among the newest machine run's live observations;
* ``high_entropy`` and ``small_margin``: the highest entropy and the smallest margin of their
  classifier's top-k;
* ``volunteer_disagreement``: the volunteers' species and the newest run's species are the
  same set when every species either names is named by both;
* ``model_disagreement``: the runs' species sets are all the same when every species any run
  names is named by every run;
* ``rare_taxon``: the fewest validated observations in the project among the newest run's
  species;
* ``not_analysed``: a medium no detector has analysed and nobody has labelled.

A species is its taxon id, or its scientific name where it has none.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Float, Numeric, String, and_, case, cast, func, literal, null, or_, union_all
from sqlalchemy import select as select_columns
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Media, Observation
from wildlens.catalogue.observations.current import VOLUNTEERS_PREFIX
from wildlens.catalogue.observations.repository.review_order import (
    DECIMALS,
    ENTROPY,
    MARGIN,
    MODEL_DISAGREEMENT,
    NOT_ANALYSED,
    RARITY,
    VOLUNTEER_DISAGREEMENT,
)
from wildlens.common.db.pagination import SortKey, page_by_keys, parse_float
from wildlens.common.http.pagination import PageParams

__all__ = ["ranked"]


def _species_key(o: Any) -> Any:
    """The species an animal observation names (NULL for anything else)."""
    named = and_(
        col(o.observation_type) == "animal",
        or_(col(o.taxon_id).is_not(None), col(o.scientific_name) != ""),
    )
    return case(
        (and_(named, col(o.taxon_id).is_not(None)), cast(col(o.taxon_id), String)),
        (named, col(o.scientific_name)),
        else_=null(),
    )


def _judged(project_id: uuid.UUID) -> Any:
    """Media a person has judged: out of the queue."""
    return select_columns(col(Observation.media_id)).where(
        col(Observation.project_id) == project_id,
        col(Observation.media_id).is_not(None),
        or_(
            col(Observation.verified_by) != "",
            and_(
                col(Observation.classification_method) == "human",
                ~col(Observation.classified_by).startswith(VOLUNTEERS_PREFIX),
            ),
        ),
    )


def _rounded(value: Any) -> Any:
    return cast(func.round(cast(value, Numeric), DECIMALS), Float)


async def ranked(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[tuple[uuid.UUID, float]], str | None]:
    """(media id, score) of a page of the queue, highest score first, then by id, and the
    cursor of the next page."""
    scored = union_all(_scores(project_id), _not_analysed(project_id)).subquery("scored")
    rows, next_cursor = await page_by_keys(
        session,
        select_columns(scored.c.media_id, scored.c.score),
        [SortKey(scored.c.score, parse_float, descending=True), SortKey(scored.c.media_id)],
        lambda row: [float(row.score), row.media_id],
        page,
    )
    return [(m, float(score)) for m, score in rows], next_cursor


def _scores(project_id: uuid.UUID) -> Any:
    """(media_id, score) of every unverified medium with an observation.

    One pass over the unverified observations, two window passes to find each medium's runs
    and its newest one, then a grouping by medium and species and one by medium: no
    self-joins, which SQLite would run as nested scans.
    """
    o = Observation
    method, state = col(o.classification_method), col(o.verification_state)
    machine = and_(method == "machine", state != "discarded")
    rows = (
        select_columns(
            col(o.media_id).label("media_id"),
            func.coalesce(cast(col(o.model_run_id), String), "").label("run"),
            case((machine, 1), else_=0).label("machine"),
            case(
                (and_(method == "human", col(o.classified_by).startswith(VOLUNTEERS_PREFIX)), 1),
                else_=0,
            ).label("volunteer"),
            col(o.classified_at).label("classified_at"),
            (
                func.coalesce(col(o.confidence), 1.0)
                * func.coalesce(col(o.classification_confidence), 1.0)
            ).label("certainty"),
            col(o.classification_entropy).label("entropy"),
            col(o.classification_margin).label("margin"),
            _species_key(o).label("species"),
        )
        .where(
            col(o.project_id) == project_id,
            col(o.media_id).is_not(None),
            col(o.media_id).not_in(_judged(project_id)),
        )
        .subquery("review_rows")
    )
    # When each run (of the medium's live machine observations) was made.
    timed = select_columns(
        rows,
        func.max(rows.c.classified_at)
        .over(partition_by=(rows.c.media_id, rows.c.machine, rows.c.run))
        .label("run_at"),
    ).subquery("timed_rows")
    by_run = (timed.c.media_id, timed.c.machine)
    # Runs numbered newest first, and in any fixed order (the last number counts them).
    ranked = select_columns(
        timed,
        func.dense_rank()
        .over(partition_by=by_run, order_by=(timed.c.run_at.desc(), timed.c.run))
        .label("age"),
        func.dense_rank().over(partition_by=by_run, order_by=timed.c.run).label("nth_run"),
    ).subquery("ranked_rows")
    current = and_(ranked.c.machine == 1, ranked.c.age == 1)
    named = ranked.c.species.is_not(None)
    validated = _validated(project_id)
    per_species = (
        select_columns(
            ranked.c.media_id,
            ranked.c.species,
            func.min(case((current, ranked.c.certainty), else_=null())).label("lowest"),
            func.max(case((current, ranked.c.entropy), else_=null())).label("entropy"),
            func.min(case((current, ranked.c.margin), else_=null())).label("margin"),
            func.max(ranked.c.volunteer).label("volunteered"),
            func.max(case((and_(ranked.c.volunteer == 1, named), 1), else_=0)).label("by_v"),
            func.max(case((and_(current, named), 1), else_=0)).label("by_m"),
            func.count(
                case((and_(ranked.c.machine == 1, named), ranked.c.run), else_=null()).distinct()
            ).label("runs_naming"),
            func.max(case((ranked.c.machine == 1, ranked.c.nth_run), else_=0)).label("runs"),
            func.max(func.coalesce(validated.c.n, 0)).label("validated"),
        )
        .select_from(ranked)
        .join(validated, validated.c.species == ranked.c.species, isouter=True)
        .group_by(ranked.c.media_id, ranked.c.species)
        .subquery("per_species")
    )
    ps = per_species.c
    per_media = (
        select_columns(
            ps.media_id,
            func.min(ps.lowest).label("lowest"),
            func.max(ps.entropy).label("entropy"),
            func.min(ps.margin).label("margin"),
            func.max(ps.volunteered).label("volunteered"),
            func.sum(case((or_(ps.by_v == 1, ps.by_m == 1), 1), else_=0)).label("named"),
            func.sum(ps.by_v).label("by_v"),
            func.sum(ps.by_m).label("by_m"),
            func.max(ps.runs).label("runs"),
            func.min(case((ps.runs_naming > 0, ps.runs_naming), else_=null())).label(
                "fewest_naming"
            ),
            func.min(case((ps.by_m == 1, ps.validated), else_=null())).label("rarest"),
        )
        .group_by(ps.media_id)
        .subquery("per_media")
    )
    pm = per_media.c
    low = case((pm.lowest < 1.0, _rounded(1.0 - pm.lowest)), else_=0.0)
    entropy = case((pm.entropy > 0.0, _rounded(ENTROPY * pm.entropy)), else_=0.0)
    margin = case((pm.margin < 1.0, _rounded(MARGIN * (1.0 - pm.margin))), else_=0.0)
    volunteers_disagree = case(
        (
            and_(pm.volunteered == 1, or_(pm.by_v < pm.named, pm.by_m < pm.named)),
            VOLUNTEER_DISAGREEMENT,
        ),
        else_=0.0,
    )
    models_disagree = case(
        (and_(pm.runs > 1, pm.fewest_naming < pm.runs), MODEL_DISAGREEMENT), else_=0.0
    )
    rarity = case((pm.rarest.is_not(None), _rounded(RARITY / (1.0 + pm.rarest))), else_=0.0)
    score = _rounded(low + entropy + margin + volunteers_disagree + models_disagree + rarity)
    return select_columns(pm.media_id, score.label("score"))


def _not_analysed(project_id: uuid.UUID) -> Any:
    """(media_id, score) of the project's media still waiting for a detector, with no
    observation of anyone's (a medium with one is scored above, or judged)."""
    observed = select_columns(col(Observation.media_id)).where(
        col(Observation.project_id) == project_id, col(Observation.media_id).is_not(None)
    )
    return select_columns(
        col(Media.id).label("media_id"), literal(NOT_ANALYSED, Float).label("score")
    ).where(
        col(Media.project_id) == project_id,
        col(Media.status) == "recorded",
        col(Media.id).not_in(observed),
    )


def _validated(project_id: uuid.UUID) -> Any:
    """Validated observations per species in the project (any type: the explanations count
    them so)."""
    keys = (
        select_columns(
            func.coalesce(
                cast(col(Observation.taxon_id), String), col(Observation.scientific_name)
            ).label("species")
        )
        .where(
            col(Observation.project_id) == project_id,
            col(Observation.verification_state) == "validated",
        )
        .subquery("validated_keys")
    )
    return (
        select_columns(keys.c.species, func.count().label("n"))
        .group_by(keys.c.species)
        .subquery("validated")
    )
