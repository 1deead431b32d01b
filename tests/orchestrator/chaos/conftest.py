"""The fault matrix: the local stack on the real Postgres, Redis and RabbitMQ, with faults injected at
the edges (the simulator's faults, the machine's own service commands, an unreachable Redis URL).

Each test adds one line to the matrix (`matrix_line`); the lines are printed at the end of the session
(`make chaos` runs this package alone)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import RABBITMQ_URL

MATRIX: list[str] = []


@pytest.fixture(scope="package")
def chaos_stack(pg_url: str, real_redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from bakery_sim.tenants import demo_tenants
    from localrun.stack import Stack

    # A 2 s client timeout for every service keeps the "service hangs / is slow" rows short (3 attempts each).
    env = {f"{s}_TIMEOUT_SECONDS": "2" for s in ("PLATFORM", "FORECASTING", "PRODUCTION", "PROCUREMENT")}
    with Stack(
        database_url=pg_url,
        redis_url=real_redis_url,
        rabbitmq_url=RABBITMQ_URL,
        tenants=demo_tenants(),
        data_dir=tmp_path_factory.mktemp("chaos-stack"),
        stage="chaos",
        extra_env=env,
    ) as running:
        yield running


@pytest.fixture()
def sim(chaos_stack: Any) -> Iterator[Any]:
    """The simulator's state, faults and call counts cleared after each test."""
    yield chaos_stack.simulator.state
    chaos_stack.simulator.state.reset()


@pytest.fixture()
def matrix_line() -> Callable[[str, str], None]:
    def record(fault: str, observed: str) -> None:
        MATRIX.append(f"{fault:<48} -> {observed}")

    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MATRIX:
        terminalreporter.write_sep("=", "fault matrix (observed)")
        for line in MATRIX:
            terminalreporter.write_line(line)
