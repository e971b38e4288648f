"""The review queue's order: each medium's score parts, computed in the database, and a page
of the queue read from them.

``review`` explains each medium's score; ``score_rows`` computes the same parts for a set of
media (or a whole project) in one statement, for the maintained ``review_scores`` (see
``models.review``), and ``ranked`` reads a page from those, adding rarity from the project's
validated counts per species. The reasons (see ``review``), as sets compared by counting:

* ``low_confidence``: the lowest certainty among the newest machine run's live observations;
* ``high_entropy`` and ``small_margin``: the highest normalised entropy and the smallest margin
  of their classifier's top-k (``media.uncertainty``);
* ``volunteer_disagreement``: the volunteers' species and the newest run's species are the
  same set when every species either names is named by both;
* ``model_disagreement``: the runs' species sets are all the same when every species any run
  names is named by every run;
* ``rare_taxon``: the fewest validated observations in the project among the newest run's
  species;
* ``not_analysed``: a medium no detector has analysed and nobody has labelled (the platform
  runs without a detector, or has not reached it yet) is queued too, so it reaches people
  instead of waiting silently.

A species is its taxon id, or its scientific name where it has none.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    Boolean,
    Float,
    Numeric,
    String,
    Table,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    text,
    true,
    union_all,
)
from sqlalchemy import select as select_columns
from sqlalchemy.orm import aliased
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Media, Observation, ReviewScore, ReviewScoreChange
from wildlens.catalogue.observations.current import VOLUNTEERS_PREFIX
from wildlens.common.db.pagination import (
    SortKey,
    after,
    next_page,
    order_by,
    parse_float,
    read_cursor,
)
from wildlens.common.http.pagination import PageParams, decode_cursor

__all__ = [
    "DECIMALS",
    "ENTROPY",
    "MARGIN",
    "MODEL_DISAGREEMENT",
    "NOT_ANALYSED",
    "RARITY",
    "SCORE_COLUMNS",
    "VOLUNTEER_DISAGREEMENT",
    "ranked",
    "score_rows",
    "uncertainty",
]

VOLUNTEER_DISAGREEMENT = 1.0
# A classifier torn between labels: its normalised entropy, and how little its first label
# leads the second, each up to as much as model versions disagreeing.
ENTROPY = 0.5
MARGIN = 0.5
MODEL_DISAGREEMENT = 0.5
RARITY = 0.5
# Nobody, machine or person, has looked at it: as much as volunteers and model disagreeing.
NOT_ANALYSED = 1.0
# Weights are shown to four decimals; the order uses the same rounding.
DECIMALS = 4
# Below any difference of two rounded scores: a bound an index can start a scan at, never
# narrower than the exact comparison that follows it.
_SLACK = 10.0 ** -(DECIMALS + 1)

_SCORES: Table = ReviewScore.__table__  # type: ignore[attr-defined]
_CHANGES: Table = ReviewScoreChange.__table__  # type: ignore[attr-defined]
SCORE_COLUMNS = [
    "project_id",
    "media_id",
    "species",
    "species_count",
    "lowest",
    "entropy",
    "margin",
    "volunteers_disagree",
    "models_disagree",
    "not_analysed",
    "base",
    "descending",
]


def uncertainty(entropy: Any, margin: Any) -> Any:
    """The ``high_entropy`` and ``small_margin`` weights, each rounded as its explanation
    shows it (0 where the medium has no top-k)."""
    return case((entropy > 0.0, _rounded(ENTROPY * entropy)), else_=0.0) + case(
        (margin < 1.0, _rounded(MARGIN * (1.0 - margin))), else_=0.0
    )


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


def _rounded(value: Any) -> Any:
    return cast(func.round(cast(value, Numeric), DECIMALS), Float)


def _among(column: Any, media_ids: Sequence[uuid.UUID] | None, arrays: bool) -> Any:
    """``column`` names one of ``media_ids`` (None: any medium)."""
    if media_ids is None:
        return true()
    if arrays:
        return column == any_(bindparam("media_ids", list(media_ids), type_=ARRAY(Uuid())))
    return column.in_(list(media_ids))


def _judged(project_id: uuid.UUID, media: Any, among: Any) -> Any:
    """Whether a person has judged ``media`` (a medium id column): out of the queue.

    A correlated ``EXISTS`` rather than ``NOT IN`` a list: PostgreSQL runs it as an
    anti-join, where ``NOT IN`` over more ids than fit in its working memory compares each
    row with every one of them. ``among`` (a condition on the judging observations' medium)
    names the media looked at, so that the anti-join reads just theirs.
    """
    judging = aliased(Observation, name="judging")
    return (
        select_columns(literal(1))
        .where(
            col(judging.project_id) == project_id,
            col(judging.media_id) == media,
            among(col(judging.media_id)),
            or_(
                col(judging.verified_by) != "",
                and_(
                    col(judging.classification_method) == "human",
                    ~col(judging.classified_by).startswith(VOLUNTEERS_PREFIX),
                ),
            ),
        )
        .exists()
    )


def score_rows(
    project_id: uuid.UUID, media_ids: Sequence[uuid.UUID] | None, *, arrays: bool
) -> Any:
    """The ``review_scores`` rows (``SCORE_COLUMNS``) of the project's unverified media among
    ``media_ids`` (None: all of them); ``arrays``: PostgreSQL takes the ids as one array.

    One pass over the media's observations, two window passes to find each medium's runs
    and its newest one, a grouping by medium and species, and windows over each medium's
    species: no self-joins, which SQLite would run as nested scans. Then the media nobody
    has analysed.
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
            _among(col(o.media_id), media_ids, arrays),
            ~_judged(project_id, col(o.media_id), lambda m: _among(m, media_ids, arrays)),
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
    ranked_rows = select_columns(
        timed,
        func.dense_rank()
        .over(partition_by=by_run, order_by=(timed.c.run_at.desc(), timed.c.run))
        .label("age"),
        func.dense_rank().over(partition_by=by_run, order_by=timed.c.run).label("nth_run"),
    ).subquery("ranked_rows")
    r = ranked_rows.c
    current = and_(r.machine == 1, r.age == 1)
    named = r.species.is_not(None)
    per_species = (
        select_columns(
            r.media_id,
            r.species,
            func.min(case((current, r.certainty), else_=null())).label("lowest"),
            func.max(case((current, r.entropy), else_=null())).label("entropy"),
            func.min(case((current, r.margin), else_=null())).label("margin"),
            func.max(r.volunteer).label("volunteered"),
            func.max(case((and_(r.volunteer == 1, named), 1), else_=0)).label("by_v"),
            func.max(case((and_(current, named), 1), else_=0)).label("by_m"),
            func.count(case((and_(r.machine == 1, named), r.run), else_=null()).distinct()).label(
                "runs_naming"
            ),
            func.max(case((r.machine == 1, r.nth_run), else_=0)).label("runs"),
        )
        .group_by(r.media_id, r.species)
        .subquery("per_species")
    )
    ps = per_species.c

    def over_medium(aggregate: Any) -> Any:
        return aggregate.over(partition_by=ps.media_id)

    per_media = select_columns(
        ps.media_id,
        ps.species,
        ps.by_m,
        over_medium(func.min(ps.lowest)).label("lowest"),
        over_medium(func.max(ps.entropy)).label("entropy"),
        over_medium(func.min(ps.margin)).label("margin"),
        over_medium(func.max(ps.volunteered)).label("volunteered"),
        over_medium(func.sum(case((or_(ps.by_v == 1, ps.by_m == 1), 1), else_=0))).label("named"),
        over_medium(func.sum(ps.by_v)).label("all_by_v"),
        over_medium(func.sum(ps.by_m)).label("all_by_m"),
        over_medium(func.max(ps.runs)).label("runs"),
        over_medium(func.min(case((ps.runs_naming > 0, ps.runs_naming), else_=null()))).label(
            "fewest_naming"
        ),
        func.row_number().over(partition_by=ps.media_id, order_by=ps.species).label("nth"),
    ).subquery("per_media")
    pm = per_media.c
    volunteers_disagree = and_(
        pm.volunteered == 1, or_(pm.all_by_v < pm.named, pm.all_by_m < pm.named)
    )
    models_disagree = and_(pm.runs > 1, pm.fewest_naming < pm.runs)
    low = case((pm.lowest < 1.0, _rounded(1.0 - pm.lowest)), else_=0.0)
    base = _rounded(
        low
        + uncertainty(pm.entropy, pm.margin)
        + case((volunteers_disagree, VOLUNTEER_DISAGREEMENT), else_=0.0)
        + case((models_disagree, MODEL_DISAGREEMENT), else_=0.0)
    )
    scored = select_columns(
        literal(project_id, Uuid()).label("project_id"),
        pm.media_id,
        case((pm.by_m == 1, pm.species), else_="").label("species"),
        case((pm.all_by_m > 0, pm.all_by_m), else_=1).label("species_count"),
        pm.lowest,
        pm.entropy,
        pm.margin,
        case((volunteers_disagree, True), else_=False).label("volunteers_disagree"),
        case((models_disagree, True), else_=False).label("models_disagree"),
        literal(False, Boolean()).label("not_analysed"),
        base.label("base"),
        (-base).label("descending"),
    ).where(or_(pm.by_m == 1, and_(pm.all_by_m == 0, pm.nth == 1)))
    return union_all(scored, _not_analysed(project_id, media_ids, arrays))


def _not_analysed(
    project_id: uuid.UUID, media_ids: Sequence[uuid.UUID] | None, arrays: bool
) -> Any:
    """Rows of the project's media still waiting for a detector, with no observation of
    anyone's (a medium with one is scored above, or judged)."""
    observed = (
        select_columns(literal(1))
        .where(
            col(Observation.project_id) == project_id,
            col(Observation.media_id) == col(Media.id),
            _among(col(Observation.media_id), media_ids, arrays),
        )
        .exists()
    )
    return select_columns(
        literal(project_id, Uuid()).label("project_id"),
        col(Media.id).label("media_id"),
        literal("", String()).label("species"),
        literal(1).label("species_count"),
        null().label("lowest"),
        null().label("entropy"),
        null().label("margin"),
        literal(False, Boolean()).label("volunteers_disagree"),
        literal(False, Boolean()).label("models_disagree"),
        literal(True, Boolean()).label("not_analysed"),
        literal(NOT_ANALYSED, Float).label("base"),
        literal(-NOT_ANALYSED, Float).label("descending"),
    ).where(
        col(Media.project_id) == project_id,
        col(Media.status) == "recorded",
        _among(col(Media.id), media_ids, arrays),
        ~observed,
    )


def _validated(project_id: uuid.UUID) -> Any:
    """Validated observations per species in the project (any type: the explanations count
    them so): a few rows, read through the index of verified observations."""
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
        .cte("validated")
    )


def _rarity(species: Any, validated: Any) -> Any:
    """The rarity weight of the medium's row for ``species`` ("" : none named)."""
    return case(
        (species == "", 0.0),
        else_=_rounded(RARITY / (1.0 + func.coalesce(validated, 0))),
    )


def _keys(score: Any, media: Any) -> list[SortKey]:
    return [SortKey(score, parse_float, descending=True), SortKey(media)]


async def ranked(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[tuple[uuid.UUID, float]], str | None]:
    """(media id, score) of a page of the queue, highest score first, then by id, and the
    cursor of the next page, from the maintained score parts (refreshed by the caller)."""
    validated = _validated(project_id)
    cursor = None
    if page.cursor:
        cursor = read_cursor(_keys(None, None), decode_cursor(page.cursor))
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        # A few index scans that PostgreSQL prices high enough to compile them, which takes
        # longer than running them.
        await connection.execute(text("SET LOCAL jit = off"))
        scored = _by_species(project_id, validated, cursor, page.limit + 1)
    else:
        scored = _whole(project_id, validated)
    keys = _keys(scored.c.score, scored.c.media_id)
    query: Any = select_columns(scored.c.media_id, scored.c.score)
    if cursor is not None:
        query = query.where(after(keys, cursor))
    rows = (await session.exec(query.order_by(*order_by(keys)).limit(page.limit + 1))).all()
    found, next_cursor = next_page(list(rows), page.limit, lambda r: [float(r.score), r.media_id])
    return [(m, float(score)) for m, score in found], next_cursor


def _noted(project_id: uuid.UUID) -> Any:
    """The project's media whose parts await a refresh: a page leaves them out, since their
    kept score may no longer be the one their explanation gives (``review_scores``)."""
    changes = _CHANGES.c
    return select_columns(changes.media_id).where(
        changes.project_id == project_id, changes.media_id.is_not(None)
    )


def _whole(project_id: uuid.UUID, validated: Any) -> Any:
    """(media_id, score) of every medium in the queue: its rows' highest base plus rarity.
    One pass over the project's rows; SQLite's (embedded, small) projects read it so."""
    rs = _SCORES.c
    row_score = _rounded(rs.base + _rarity(rs.species, validated.c.n))
    return (
        select_columns(rs.media_id, func.max(row_score).label("score"))
        .select_from(_SCORES)
        .join(validated, validated.c.species == rs.species, isouter=True)
        .where(rs.project_id == project_id, rs.media_id.not_in(_noted(project_id)))
        .group_by(rs.media_id)
        .subquery("scored")
    )


def _by_species(project_id: uuid.UUID, validated: Any, cursor: list[Any] | None, limit: int) -> Any:
    """(media_id, score) of the candidates for a page (PostgreSQL): for each species the
    project's rows name (and "", none), the first ``limit`` rows after the cursor down the
    order index, each row kept only where it is its medium's highest (no other species of
    the medium is rarer).

    Within one species rarity is the same for every row, so the index's order (base, then
    medium) is the queue's order; a medium in the page is among the first ``limit`` rows of
    its rarest species, as every row before it is another medium's, higher in the queue. The
    species come from the index too, one probe each (a loose index scan).
    """
    rs = _SCORES.c
    first = select_columns(func.min(rs.species).label("species")).where(rs.project_id == project_id)
    present = first.cte("present_species", recursive=True)
    following = _SCORES.alias("following")
    present = present.union_all(
        select_columns(
            select_columns(func.min(following.c.species))
            .where(
                following.c.project_id == project_id,
                following.c.species > present.c.species,
            )
            .scalar_subquery()
        ).where(present.c.species.is_not(None))
    )
    streams = (
        select_columns(
            present.c.species,
            _rarity(present.c.species, validated.c.n).label("rarity"),
            func.coalesce(validated.c.n, 0).label("validated"),
        )
        .join(validated, validated.c.species == present.c.species, isouter=True)
        .where(present.c.species.is_not(None))
        .subquery("streams")
    )
    row = _SCORES.alias("row")
    other = _SCORES.alias("other")
    score = _rounded(row.c.base + streams.c.rarity)
    # The fewest validated among the medium's species: its rows for other species are
    # probed by medium only where it has any (a scalar subquery, never a hashed scan).
    rarest = (
        select_columns(func.min(func.coalesce(validated.c.n, 0)))
        .select_from(other.join(validated, validated.c.species == other.c.species, isouter=True))
        .where(other.c.media_id == row.c.media_id)
        .correlate_except(other, validated)
        .scalar_subquery()
    )
    conditions = [
        row.c.project_id == project_id,
        row.c.species == streams.c.species,
        row.c.media_id.not_in(_noted(project_id)),
        or_(row.c.species_count == 1, rarest >= streams.c.validated),
    ]
    if cursor is not None:
        keys = _keys(score, row.c.media_id)
        # The exact comparison, and a bound the index scan starts at.
        conditions.append(row.c.descending >= streams.c.rarity - cursor[0] - _SLACK)
        conditions.append(after(keys, cursor))
    candidates = (
        select_columns(row.c.media_id, score.label("score"))
        .where(*conditions)
        .order_by(row.c.descending, row.c.media_id)
        .limit(limit)
        .lateral("candidates")
    )
    c = candidates.c
    return (
        select_columns(c.media_id, func.max(c.score).label("score"))
        .select_from(streams.join(candidates, true()))
        .group_by(c.media_id)
        .subquery("scored")
    )
