"""A long fuzzing run for before a release: schemathesis over the whole platform's OpenAPI
document, as an admin and with no token, many more examples per operation than CI runs.

The platform runs embedded in this process with the tiny detector the tests train
(``tests/support/tiny_models.py``, reused from pytest's cache when it is there); requests go
over its ASGI app with ids drawn from a pool of real objects (``tests/support/fuzzing.py``,
the same harness as ``tests/e2e/test_fuzzing.py``). Every answer is held to three checks: no
5xx, the body matches its documented schema, the status is documented.

Baseline, measured in the same run over the same app: ``GET /healthz``, the cheapest request
the platform answers. The ratio says how much slower the fuzzed mix is per request.

    python bench/fuzz.py [--examples 100] [--seed 20261204]

Prints the requests sent, their statuses and every failure found (the exit status is 1 when
there is one); the last line reads ``fuzzed requests per second: <n>, ratio R``
(R = fuzzed requests per second / /healthz requests per second).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

import structlog

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.fuzzing import FuzzReport, fuzz, openapi_schema, seed_pool  # noqa: E402
from tests.support.platform import admin_token, embedded_settings, running  # noqa: E402
from tests.support.tiny_models import build_tiny_detector  # noqa: E402
from wildlens.catalogue.runtime import CatalogueRuntime  # noqa: E402

IMAGE = ROOT / "tests" / "data" / "camtrap-dp" / "example" / "media" / "20210531082538-RCNX0031.JPG"
CACHE = ROOT / ".pytest_cache" / "d" / "tiny-detector"


async def _healthz_per_second(client: object, seconds: float = 3.0) -> float:
    get = client.get  # type: ignore[attr-defined]
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        response = await get("/healthz")
        assert response.status_code == 200
        count += 1
    return count / (time.perf_counter() - started)


async def measure(examples: int, random_seed: int) -> tuple[FuzzReport, float]:
    with tempfile.TemporaryDirectory() as tmp:
        detector = build_tiny_detector(CACHE if CACHE.parent.exists() else Path(tmp) / "tiny")
        settings = embedded_settings(Path(tmp) / "data", detector=detector)
        async with running(settings) as wl:
            # The fuzzer writes webhook URLs of its own; nothing is sent anywhere.
            runtime = wl.platform.contexts["catalogue"].runtime_as(CatalogueRuntime)
            await runtime.deliveries.close()
            admin = admin_token(settings)
            pool = await seed_pool(wl.client, admin, IMAGE)
            schema = openapi_schema(wl.app)
            baseline = await _healthz_per_second(wl.client)
            loop = asyncio.get_running_loop()
            report = FuzzReport()
            for token in (admin, None):
                report.merge(
                    await asyncio.to_thread(
                        fuzz,
                        schema,
                        wl.client,
                        loop,
                        pool,
                        token=token,
                        max_examples=examples,
                        random_seed=random_seed,
                        progress=lambda line: print(line, file=sys.stderr, flush=True),
                    )
                )
    return report, baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=100, help="per operation and mode")
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    logging.getLogger("python_multipart").setLevel(logging.ERROR)
    report, baseline = asyncio.run(measure(args.examples, args.seed))
    print(report.summary())
    rate = report.requests / report.seconds
    failures = sum(len(found) for found in report.failures.values())
    print(f"failures: {failures} distinct, in {len(report.failures)} operations")
    print(f"/healthz baseline: {baseline:.0f} requests per second")
    print(f"fuzzed requests per second: {rate:.0f}, ratio {rate / baseline:.3f}")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
