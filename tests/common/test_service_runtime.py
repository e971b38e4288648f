"""How code below a service's runtime module finds the piece of the runtime it needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.platform import embedded_settings
from wildlens.common.service import ServiceContext, ServiceNotRunning, ServiceSpec
from wildlens.common.service.platform import Platform


class Worker:
    pass


class Clock:
    pass


@dataclass
class OneWorker:
    worker: Worker
    clock: Clock


@dataclass
class TwoWorkers:
    first: Worker
    second: Worker


@pytest.fixture
def ctx(tmp_path: Path) -> ServiceContext:
    platform = Platform(embedded_settings(tmp_path), [ServiceSpec(name="probe", routers=list)])
    return platform.contexts["probe"]


def test_the_one_piece_of_a_kind_is_found(ctx: ServiceContext) -> None:
    worker = Worker()
    ctx.runtime = OneWorker(worker, Clock())
    assert ctx.runtime_part(Worker) is worker


def test_two_pieces_of_a_kind_are_refused_rather_than_one_guessed(ctx: ServiceContext) -> None:
    ctx.runtime = TwoWorkers(Worker(), Worker())
    with pytest.raises(LookupError, match="holds 2 Worker"):
        ctx.runtime_part(Worker)


def test_a_piece_the_runtime_lacks_is_refused(ctx: ServiceContext) -> None:
    ctx.runtime = OneWorker(Worker(), Clock())
    with pytest.raises(LookupError, match="holds 0 str"):
        ctx.runtime_part(str)


def test_no_piece_before_the_service_runs(ctx: ServiceContext) -> None:
    with pytest.raises(ServiceNotRunning):
        ctx.runtime_part(Worker)
