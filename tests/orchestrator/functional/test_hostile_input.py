"""The hostile-input suite on SQLite (the local cloud's embedded defaults), in process: every route x every
role x the catalogue of bad values (tests/orchestrator/hostile.py), each answer checked and each followed
by a normal request that must still answer correctly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.orchestrator import hostile
from tests.orchestrator.api import Api, in_process


@pytest.fixture(scope="module")
def api(stack: Any) -> Iterator[Api]:
    with in_process() as client:
        yield client


@pytest.mark.parametrize("operation", hostile.operation_ids())
def test_hostile_input_gets_a_clear_4xx_and_the_next_caller_is_served(api: Api, operation: str) -> None:
    # WHEN the route gets each bad value of the catalogue, from each role, each followed by a normal request
    sent, problems = hostile.run_operation(api, operation)
    # THEN none was answered with a 5xx, out of the error shape, with internals, or accepted when it must
    # be refused, and every next caller got a correct answer
    assert sent > 0
    assert problems == [], "\n".join(problems[:30])
