"""Schemathesis over the whole platform's OpenAPI document, as an admin and with no token: no
answer is a 5xx, every answer matches the schema documented for its status, and every status
is documented. The run is bounded (a fixed seed, a fixed number of examples per operation and
generation mode) so that CI repeats it exactly; ``bench/fuzz.py`` runs a longer one.

Requests go to the embedded platform in this process over its ASGI app, with the tiny detector
(so that ``/v1/predict`` answers rather than saying no model is served) and with ids drawn
mostly from a pool of real objects (``tests/support/fuzzing.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.fuzzing import FuzzReport, Pool, fuzz, openapi_schema, seed_pool
from tests.support.platform import RunningPlatform, admin_token, embedded_settings, running
from wildlens.catalogue.runtime import CatalogueRuntime

SEED = 20261204
# Per operation and generation mode (valid and invalid requests), for each caller: 6,560
# requests, about a minute and a half on two cores, well within the module's share of CI.
MAX_EXAMPLES = 20


@dataclass
class Fuzzed:
    wl: RunningPlatform
    schema: Any
    pool: Pool
    admin: str


@pytest.fixture
async def fuzzed(
    tmp_path: Path, tiny_detector: Path, heron_images: list[Path]
) -> AsyncIterator[Fuzzed]:
    settings = embedded_settings(tmp_path / "data", detector=tiny_detector)
    async with running(settings) as wl:
        # The fuzzer writes webhook URLs of its own; nothing may be sent anywhere from a test.
        await wl.platform.contexts["catalogue"].runtime_as(CatalogueRuntime).deliveries.close()
        admin = admin_token(settings)
        pool = await seed_pool(wl.client, admin, heron_images[0])
        yield Fuzzed(wl, openapi_schema(wl.app), pool, admin)


async def _run(fuzzed: Fuzzed, token: str | None) -> FuzzReport:
    loop = asyncio.get_running_loop()
    return await asyncio.to_thread(
        fuzz,
        fuzzed.schema,
        fuzzed.wl.client,
        loop,
        fuzzed.pool,
        token=token,
        max_examples=MAX_EXAMPLES,
        random_seed=SEED,
    )


@pytest.mark.timeout(480)
async def test_fuzzing_finds_no_server_error_and_no_undocumented_answer(fuzzed: Fuzzed) -> None:
    report = FuzzReport()
    for token in (fuzzed.admin, None):
        report.merge(await _run(fuzzed, token))
    print(report.summary())
    assert not report.failures, report.summary()
    # The run reached past authentication and validation into the platform's rules.
    assert report.statuses[200] + report.statuses[201] + report.statuses[202] > 100
