"""Catalogue on PostgreSQL: consuming ``media.analyzed``, list queries and statistics at scale.

One catalogue (``create_app`` with the catalogue alone: its migrations, its engine) runs in
this process on the local PostgreSQL, in schemas of its own that are dropped afterwards.

* consuming: ``media.analyzed`` envelopes with 3 detections each (a species label on each),
  for media already recorded, handed to the catalogue's real batch handler
  (``consumers.media_analyzed.consume``: the one the bus calls) in batches of 256, one
  transaction per batch, one batch at a time: the bus itself is left out, so the figure is
  the database side of the consumer, with the statistics summaries' refresher working
  alongside as it does in the platform (also printed: the consumer with the refresher
  paused, and the refresher's catch-up afterwards; and, once the observations below are
  loaded, the consumer on that large project). In the same run, the same rows (one model run
  and three observations per medium, for other media of the same shape) go in by raw asyncpg
  COPY: the baseline.
* queries: N observations (``--observations``, default 1M; three detections per image, in
  animal visits of bursts as cameras take them, over 20 deployments at 10 locations and a
  year) loaded with COPY, then ``GET .../media`` and
  ``GET .../observations`` (first page of 100, unfiltered and filtered by location) and
  ``GET .../statistics/{name}`` (whole project, and one location over one month) through the
  ASGI app in process, each timed ``--repeats`` times after a warm-up; p95 of each. Statistics
  read maintained detection records (one per sequence and taxon) and per-minute media counts,
  the review queue each medium's maintained score parts; the time to recompute them for
  everything loaded is printed.
* webhook latency: upload to webhook delivery in embedded mode, measured by
  ``bench/catalogue_webhook.py`` when that module is there (see ``webhook_latency``).

    python bench/catalogue.py [--observations 1000000] [--media 6400] [--repeats 40]

The review queue's first page and a deep one (page 41, reached by cursor) are timed with the
lists; the line before the last reads ``review page p95 (worst of first and deep page): <ms>
ms (target <= 300 ms), ratio R`` (R = review page / the worst statistic, same run). The last
line reads ``catalogue consumer throughput: <media/s> media/s, ratio R`` (R = consumer / raw
COPY).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import JSON, Table

from wildlens.catalogue.consumers import media_analyzed
from wildlens.catalogue.models import (
    Deployment,
    Device,
    Location,
    Media,
    ModelRun,
    Observation,
    Project,
)
from wildlens.catalogue.observations.review_scores import refresh as refresh_review_scores
from wildlens.catalogue.runtime import CatalogueRuntime
from wildlens.catalogue.statistics.summaries import refresh
from wildlens.common.auth import TokenIssuer, load_keyring
from wildlens.common.events import Envelope, new_envelope
from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Classification,
    Detection,
    MediaAnalyzed,
    ModelRef,
)
from wildlens.common.http import create_app
from wildlens.common.service import ServiceContext, discover_services
from wildlens.common.settings import Settings
from wildlens.common.telemetry import configure_logging

ROOT = Path(__file__).resolve().parent
DATABASE_URL = os.environ.get(
    "WILDLENS_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
LOCATIONS, DEPLOYMENTS_PER_LOCATION = 10, 2
SPECIES = [
    "Vulpes vulpes",
    "Meles meles",
    "Capreolus capreolus",
    "Sus scrofa",
    "Martes foina",
    "Lepus europaeus",
    "Ardea cinerea",
    "Anas platyrhynchos",
    "Sciurus vulgaris",
    "Erinaceus europaeus",
    "Mustela putorius",
    "Rattus norvegicus",
    "Felis catus",
    "Canis familiaris",
    "Cervus elaphus",
    "Dama dama",
    "Pica pica",
    "Garrulus glandarius",
    "Turdus merula",
    "Columba palumbus",
]
SURVEY_START = datetime(2023, 1, 1, tzinfo=UTC)
SURVEY_DAYS = 365
SECOND = timedelta(seconds=1)


def p95(samples: Sequence[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


# --- rows for COPY -------------------------------------------------------------------------


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _defaults(model: Any, **required: Any) -> dict[str, Any]:
    """Every column of ``model`` with what a new row gets unless told otherwise."""
    sample = model(**required)
    return {c.name: getattr(sample, c.name) for c in _table(model).columns}


class Copier:
    """Rows of one table as COPY wants them: every column, JSON as text."""

    def __init__(self, model: Any, **required: Any) -> None:
        self.table = _table(model)
        self.columns = [c.name for c in self.table.columns]
        self.json = {c.name for c in self.table.columns if isinstance(c.type, JSON)}
        self.defaults = _defaults(model, **required)

    def record(self, **values: Any) -> tuple[Any, ...]:
        row = {**self.defaults, **values}
        return tuple(
            json.dumps(row[name]) if name in self.json and row[name] is not None else row[name]
            for name in self.columns
        )

    async def copy(
        self, conn: asyncpg.Connection, schema: str, records: list[tuple[Any, ...]]
    ) -> None:
        await conn.copy_records_to_table(
            self.table.name, records=records, columns=self.columns, schema_name=schema
        )


MEDIA = Copier(
    Media, id=uuid.uuid4(), project_id=uuid.uuid4(), sha256="", object_key="", content_type=""
)
OBSERVATIONS = Copier(Observation, project_id=uuid.uuid4(), observation_type="", category="")
RUNS = Copier(
    ModelRun,
    media_id=uuid.uuid4(),
    model_name="",
    model_version="",
    analyzed_at=SURVEY_START,
)


class Survey:
    """One project: locations, cameras, deployments spread over a year."""

    def __init__(self, project_id: uuid.UUID) -> None:
        self.project_id = project_id
        self.locations = [uuid.uuid4() for _ in range(LOCATIONS)]
        self.devices = [uuid.uuid4() for _ in range(LOCATIONS * DEPLOYMENTS_PER_LOCATION)]
        half = timedelta(days=SURVEY_DAYS / DEPLOYMENTS_PER_LOCATION)
        # Two consecutive half-year deployments per location, one camera each.
        self.deployments: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, datetime, datetime]] = []
        for i, location in enumerate(self.locations):
            for j in range(DEPLOYMENTS_PER_LOCATION):
                start = SURVEY_START + j * half
                device = self.devices[i * DEPLOYMENTS_PER_LOCATION + j]
                self.deployments.append((uuid.uuid4(), location, device, start, start + half))

    async def create(self, ctx: ServiceContext) -> None:
        async with ctx.database.transaction() as session:
            session.add(Project(id=self.project_id, name="Bench survey", created_by="bench"))
            await session.flush()
            for n, location in enumerate(self.locations):
                session.add(
                    Location(
                        id=location,
                        project_id=self.project_id,
                        name=f"Station {n:02d}",
                        latitude=50 + n / 100,
                        longitude=4 + n / 100,
                    )
                )
            for n, device in enumerate(self.devices):
                session.add(Device(id=device, project_id=self.project_id, serial=f"CAM{n:04d}"))
            await session.flush()
            for deployment, location, device, start, end in self.deployments:
                session.add(
                    Deployment(
                        id=deployment,
                        project_id=self.project_id,
                        location_id=location,
                        device_id=device,
                        start=start,
                        end=end,
                        utc_offset="+01:00",
                    )
                )

    def media(
        self, count: int, rng: random.Random
    ) -> Iterator[tuple[uuid.UUID, uuid.UUID, datetime]]:
        """(media id, deployment id, capture time) inside the deployment's span."""
        for _ in range(count):
            deployment, _, _, start, end = rng.choice(self.deployments)
            at = start + (end - start) * rng.random()
            yield uuid.uuid4(), deployment, at.replace(microsecond=0)


def media_records(
    survey: Survey, media: list[tuple[uuid.UUID, uuid.UUID, datetime]]
) -> list[tuple[Any, ...]]:
    return [
        MEDIA.record(
            id=m,
            project_id=survey.project_id,
            deployment_id=d,
            sha256=m.hex + m.hex,
            object_key=f"media/{m.hex[:2]}/{m.hex}.jpg",
            content_type="image/jpeg",
            filename=f"{m.hex}.jpg",
            captured_at=at,
            captured_at_source="exif",
            status="recorded",
        )
        for m, d, at in media
    ]


# --- (a) consuming media.analyzed ----------------------------------------------------------


def analyzed_envelopes(
    survey: Survey, media: Sequence[uuid.UUID], rng: random.Random
) -> list[Envelope]:
    envelopes = []
    for m in media:
        detections = [
            Detection(
                category="animal",
                confidence=0.5 + rng.random() / 2,
                bbox=BoundingBox(x=0.1 * k, y=0.2, width=0.2, height=0.3),
                classifications=[
                    Classification(
                        label=name.lower().replace(" ", "_"),
                        scientific_name=name,
                        confidence=0.9,
                    )
                    for name in [rng.choice(SPECIES)]
                ],
            )
            for k in range(3)
        ]
        event = MediaAnalyzed(
            media_id=str(m),
            project_id=str(survey.project_id),
            detector=ModelRef(name="megadetector", version="5.0a"),
            detections=detections,
        )
        event.analyzed_at.GetCurrentTime()
        envelopes.append(new_envelope(event, producer="bench"))
    return envelopes


def copy_rows(
    survey: Survey, media: Sequence[uuid.UUID], rng: random.Random
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What the consumer writes for ``media``: one model run and three observations each."""
    now = datetime.now(UTC)
    runs, observations = [], []
    for m in media:
        run = uuid.uuid4()
        runs.append(
            RUNS.record(
                id=run,
                media_id=m,
                model_name="megadetector",
                model_version="5.0a",
                analyzed_at=now,
                recorded_at=now,
            )
        )
        for k in range(3):
            observations.append(
                OBSERVATIONS.record(
                    id=uuid.uuid4(),
                    project_id=survey.project_id,
                    media_id=m,
                    model_run_id=run,
                    observation_type="animal",
                    category="animal",
                    confidence=0.5 + rng.random() / 2,
                    bbox_x=0.1 * k,
                    bbox_y=0.2,
                    bbox_width=0.2,
                    bbox_height=0.3,
                    scientific_name=rng.choice(SPECIES),
                    classification_method="machine",
                    classified_by="megadetector@5.0a",
                    classified_at=now,
                )
            )
    return runs, observations


async def consume(ctx: ServiceContext, envelopes: list[Envelope]) -> float:
    """Seconds the catalogue's batch handler takes for ``envelopes``, a batch at a time."""
    batch = media_analyzed.BATCH_SIZE
    started = time.perf_counter()
    for i in range(0, len(envelopes), batch):
        await media_analyzed.consume(ctx, envelopes[i : i + batch])
    return time.perf_counter() - started


async def report_consumer_alone(
    ctx: ServiceContext, survey: Survey, count: int, rng: random.Random
) -> None:
    """Prints the consumer's rate with the statistics summaries' refresher paused (on two
    cores the two share the CPU), and how long the refresher then takes to catch up: what a
    deployment that gives the refresher a core of its own would see. The figure the run
    ends with keeps both running, as the platform does."""
    await refresh(ctx.database, survey.project_id)
    refresher = ctx.runtime_as(CatalogueRuntime).summaries
    await refresher.close()
    alone = await consume_new_media(ctx, survey, count, rng)
    started = time.perf_counter()
    changes = await refresh(ctx.database, survey.project_id)
    catch_up_s = time.perf_counter() - started
    await refresher.start()
    print(
        f"  consumer alone, summaries refresher paused: {alone:.0f} media/s; the refresher "
        f"then caught up with {changes} sequences and minutes in {catch_up_s:.1f} s",
        flush=True,
    )


async def consume_new_media(
    ctx: ServiceContext, survey: Survey, count: int, rng: random.Random
) -> float:
    """Records ``count`` new media by COPY, then consumes an analysis of each: media/s."""
    media = list(survey.media(count, rng))
    conn = await asyncpg.connect(DATABASE_URL.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        schema = ctx.database.schema
        assert schema is not None
        await MEDIA.copy(conn, schema, media_records(survey, media))
        await conn.execute(f'ANALYZE "{schema}".media')
    finally:
        await conn.close()
    await refresh(ctx.database, survey.project_id)
    envelopes = analyzed_envelopes(survey, [m for m, _, _ in media], rng)
    return count / await consume(ctx, envelopes)


async def consumer_throughput(
    ctx: ServiceContext, conn: asyncpg.Connection, schema: str, survey: Survey, count: int
) -> tuple[float, float]:
    """(consumer media/s, raw COPY media/s) for ``count`` media each."""
    rng = random.Random(7)
    consumed = list(survey.media(count, rng))
    copied = list(survey.media(count, rng))
    await MEDIA.copy(conn, schema, media_records(survey, consumed + copied))
    await conn.execute(f'ANALYZE "{schema}".media')

    envelopes = analyzed_envelopes(survey, [m for m, _, _ in consumed], rng)
    consumer_s = await consume(ctx, envelopes)
    await report_consumer_alone(ctx, survey, count, rng)
    stored = await conn.fetchval(
        f'SELECT count(*) FROM "{schema}".observations WHERE media_id = ANY($1::uuid[])',
        [m for m, _, _ in consumed],
    )
    assert stored == 3 * count, f"the consumer stored {stored} observations, not {3 * count}"

    runs, observations = copy_rows(survey, [m for m, _, _ in copied], rng)
    started = time.perf_counter()
    async with conn.transaction():
        await RUNS.copy(conn, schema, runs)
        await OBSERVATIONS.copy(conn, schema, observations)
    copy_s = time.perf_counter() - started
    return count / consumer_s, count / copy_s


# --- (b) queries with many observations loaded ----------------------------------------------


def visits(
    survey: Survey, media: int, rng: random.Random
) -> Iterator[tuple[uuid.UUID, uuid.UUID, datetime, str]]:
    """(media id, deployment id, capture time, species; "" for a blank) as cameras take them:
    an animal's visit sets the camera off one to four times within ten minutes, each trigger
    a burst of three images a second apart; one trigger in ten is wind or sun (blank)."""
    made = 0
    while made < media:
        deployment, _, _, start, end = rng.choice(survey.deployments)
        visit = start + (end - start - timedelta(minutes=15)) * rng.random()
        species = rng.choice(SPECIES)
        for _ in range(rng.randint(1, 4)):
            trigger = visit + timedelta(seconds=rng.randint(0, 600))
            label = "" if rng.random() < 0.1 else species
            for k in range(3):
                yield uuid.uuid4(), deployment, trigger.replace(microsecond=0) + k * SECOND, label
                made += 1


async def load_observations(
    conn: asyncpg.Connection, schema: str, survey: Survey, observations: int
) -> float:
    """``observations`` more observations (three detections per image, in visits; one image
    in twenty with a person's label next to the machine's) loaded by COPY; answers the
    seconds it took."""
    rng = random.Random(11)
    media = list(visits(survey, observations // 3, rng))[: observations // 3]
    started = time.perf_counter()
    now = datetime.now(UTC)
    chunk = 50_000
    for i in range(0, len(media), chunk):
        part = media[i : i + chunk]
        await MEDIA.copy(conn, schema, media_records(survey, [(m, d, at) for m, d, at, _ in part]))
        rows = []
        for m, _, _, species in part:
            human = rng.random() < 0.05
            for k in range(3):
                rows.append(
                    OBSERVATIONS.record(
                        id=uuid.uuid4(),
                        project_id=survey.project_id,
                        media_id=m,
                        observation_type="animal" if species else "blank",
                        category="animal" if species else "blank",
                        confidence=rng.random(),
                        scientific_name=species,
                        classification_method="human" if human and k == 0 else "machine",
                        classified_by="expert" if human and k == 0 else "megadetector@5.0a",
                        classified_at=now,
                    )
                )
        await OBSERVATIONS.copy(conn, schema, rows)
    # What autovacuum leaves a loaded database in: statistics and visibility maps current.
    for table in ("media", "observations", "deployments", "locations"):
        await conn.execute(f'VACUUM ANALYZE "{schema}".{table}')
    return time.perf_counter() - started


async def timed(call: Callable[[], Awaitable[httpx.Response]], repeats: int) -> float:
    """p95 milliseconds of ``call`` after one warm-up call."""
    response = await call()
    assert response.status_code == 200, response.text
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = await call()
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return p95(samples)


async def review_cursor(
    client: httpx.AsyncClient, base: str, headers: dict[str, str], pages: int
) -> str:
    """The cursor of the review queue's page after ``pages`` pages of 50 (or of its last)."""
    cursor: str | None = None
    found = ""
    for _ in range(pages):
        params: dict[str, Any] = {"limit": 50, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{base}/review", params=params, headers=headers)
        assert response.status_code == 200, response.text
        cursor = response.json()["next_cursor"]
        if cursor is None:
            break
        found = cursor
    return found


async def query_latencies(
    client: httpx.AsyncClient, token: str, survey: Survey, repeats: int
) -> dict[str, float]:
    base = f"/v1/projects/{survey.project_id}"
    headers = {"Authorization": f"Bearer {token}"}
    # A reviewer far into the queue: page 41 (items 2001..2050).
    deep_cursor = await review_cursor(client, base, headers, 40)
    station = str(survey.locations[3])
    month = {"captured_from": "2023-05-01T00:00:00Z", "captured_to": "2023-06-01T00:00:00Z"}
    calls: dict[str, tuple[str, dict[str, Any]]] = {
        "media list": (f"{base}/media", {"limit": 100}),
        "media list, one location": (f"{base}/media", {"limit": 100, "location_id": station}),
        "observations list": (f"{base}/observations", {"limit": 100}),
        "observations list, one location": (
            f"{base}/observations",
            {"limit": 100, "location_id": station},
        ),
    }
    calls["review queue, first page"] = (f"{base}/review", {"limit": 50})
    calls["review queue, deep page"] = (f"{base}/review", {"limit": 50, "cursor": deep_cursor})
    for name in (
        "counts",
        "relative-abundance",
        "activity",
        "detection-rate",
        "species-accumulation",
    ):
        calls[f"statistics {name}"] = (f"{base}/statistics/{name}", {})
        calls[f"statistics {name}, one location, one month"] = (
            f"{base}/statistics/{name}",
            {"location_id": station, **month},
        )
    results = {}
    for label, (url, params) in calls.items():

        async def call(url: str = url, params: dict[str, Any] = params) -> httpx.Response:
            return await client.get(url, params=params, headers=headers)

        results[label] = await timed(call, repeats)
        print(f"  {label}: p95 {results[label]:.1f} ms", flush=True)
    return results


# --- (c) upload to webhook delivery --------------------------------------------------------


async def webhook_latency() -> float | None:
    """HOOK: upload (``POST /v1/media``) to webhook delivery in embedded mode, in seconds.

    ``bench/catalogue_webhook.py`` measures it (``async def webhook_latency_seconds() ->
    float``); without that module there is no figure.
    """
    path = ROOT / "catalogue_webhook.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("catalogue_webhook", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seconds: float = await module.webhook_latency_seconds()
    return seconds


# --- the run --------------------------------------------------------------------------------


async def drop_schemas(dsn: str, prefix: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        names = await conn.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
            prefix.replace("_", r"\_") + "%",
        )
        for row in names:
            await conn.execute(f'DROP SCHEMA "{row["nspname"]}" CASCADE')
    finally:
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--observations", type=int, default=1_000_000)
    parser.add_argument("--media", type=int, default=6400, help="media consumed and copied")
    parser.add_argument("--repeats", type=int, default=40, help="timed calls per query")
    parser.add_argument("--skip-webhook", action="store_true")
    args = parser.parse_args()

    configure_logging("WARNING", json=False)
    dsn = DATABASE_URL.replace("postgresql+asyncpg://", "postgresql://")
    try:
        await (await asyncpg.connect(dsn, timeout=5)).close()
    except (OSError, asyncpg.PostgresError) as exc:
        raise SystemExit(f"this benchmark needs PostgreSQL at {dsn}: {exc}") from exc
    prefix = f"bench{uuid.uuid4().hex[:8]}_"
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            mode="embedded",
            data_dir=Path(tmp),
            database_url=DATABASE_URL,
            database={"schema_prefix": prefix},
            log_level="WARNING",
        )
        schema = settings.schema_for("catalogue")
        assert schema is not None
        app = create_app(settings, discover_services(["catalogue"]))
        try:
            async with app.router.lifespan_context(app):
                ctx: ServiceContext = app.state.platform.contexts["catalogue"]
                survey = Survey(uuid.uuid4())
                await survey.create(ctx)
                conn = await asyncpg.connect(dsn)
                try:
                    print(f"consuming {args.media} media.analyzed (3 detections each)", flush=True)
                    consumer_rate, copy_rate = await consumer_throughput(
                        ctx, conn, schema, survey, args.media
                    )
                    print(
                        f"  consumer (batches of {media_analyzed.BATCH_SIZE}), summaries refreshed "
                        f"alongside: {consumer_rate:.0f} media/s"
                    )
                    print(f"  raw asyncpg COPY, same rows: {copy_rate:.0f} media/s")

                    print(f"loading {args.observations} observations by COPY", flush=True)
                    # Setting the stage: the summaries are brought up to date once, after the
                    # load, rather than chased by the background refresher while it runs.
                    refresher = ctx.runtime_as(CatalogueRuntime).summaries
                    await refresher.close()
                    reviews = ctx.runtime_as(CatalogueRuntime).reviews
                    await reviews.close()
                    seconds = await load_observations(conn, schema, survey, args.observations)
                    total = await conn.fetchval(f'SELECT count(*) FROM "{schema}".observations')
                    print(f"  {total} observations in {seconds:.1f} s")
                    # What a statistic reads first: the summaries, recomputed here for
                    # everything loaded.
                    started = time.perf_counter()
                    changes = await refresh(ctx.database, survey.project_id)
                    print(
                        f"  statistics summaries: {changes} changed sequences and minutes "
                        f"recomputed in {time.perf_counter() - started:.1f} s",
                        flush=True,
                    )
                    started = time.perf_counter()
                    changes = await refresh_review_scores(ctx.database, survey.project_id)
                    print(
                        f"  review scores: {changes} changed media scored in "
                        f"{time.perf_counter() - started:.1f} s",
                        flush=True,
                    )
                    await refresher.start()
                    await reviews.start()
                finally:
                    await conn.close()
                issuer = TokenIssuer(load_keyring(settings), settings.auth.issuer)
                token = issuer.user_token("bench", {"*": "admin"})
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://bench"
                ) as client:
                    print(f"queries, p95 of {args.repeats} calls each:", flush=True)
                    latencies = await query_latencies(client, token, survey, args.repeats)
                # After the queries, so that its writes (and the vacuuming they call for) do
                # not run under them.
                loaded = await consume_new_media(ctx, survey, args.media, random.Random(11))
                print(
                    f"consumer on the loaded project, summaries refreshed alongside: "
                    f"{loaded:.0f} media/s",
                    flush=True,
                )
        finally:
            await drop_schemas(dsn, prefix)

    lists = [v for k, v in latencies.items() if "list" in k]
    stats = [v for k, v in latencies.items() if k.startswith("statistics")]
    print(f"list query p95 (worst of {len(lists)}): {max(lists):.1f} ms (target <= 50 ms)")
    print(f"statistics p95 (worst of {len(stats)}): {max(stats):.1f} ms (target <= 300 ms)")
    review = [v for k, v in latencies.items() if k.startswith("review")]
    print(
        f"review page p95 (worst of first and deep page): {max(review):.1f} ms "
        f"(target <= 300 ms), ratio {max(review) / max(stats):.2f}"
    )
    latency = None if args.skip_webhook else await webhook_latency()
    if latency is None:
        print("upload to webhook delivery: not measured (skipped, or no catalogue_webhook.py)")
    else:
        print(f"upload to webhook delivery (embedded): {latency:.2f} s (target <= 5 s)")
    print(
        f"catalogue consumer throughput: {consumer_rate:.0f} media/s, "
        f"ratio {consumer_rate / copy_rate:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
