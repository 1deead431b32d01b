"""The local stack on embedded defaults (SQLite file, embedded Redis, local event log), demo tenants."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from bakery_sim.tenants import demo_tenants
    from localrun.stack import Stack

    data_dir: Path = tmp_path_factory.mktemp("local-stack")
    with Stack(tenants=demo_tenants(), data_dir=data_dir, stage="ftest") as running:
        yield running


@pytest.fixture()
def simulator(stack):  # type: ignore[no-untyped-def]
    """The stack's simulator, with faults and call counts cleared before and after each test."""
    stack.simulator.state.reset()
    yield stack.simulator
    stack.simulator.state.reset()


@pytest.fixture()
def api(stack):  # type: ignore[no-untyped-def]
    """The routes through chalice.test.Client with the local stage, as `Api` (JSON in, status and JSON out)."""
    from chalice.test import Client

    from app import app
    from tests.orchestrator.functional.test_api_routes import Api

    with Client(app, stage_name="local") as client:
        yield Api(client.http)
