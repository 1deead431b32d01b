"""GET /statistics' read model on Postgres: aggregated by the database (no execution row is loaded into
memory), with the same numbers as the plain computation over every row."""

from __future__ import annotations

import pytest

from chalicelib.db.migrate import upgrade
from tests.orchestrator.statistics_check import answer, close, expected, seed


@pytest.mark.parametrize("days", [1, 30, 366])
def test_statistics_are_aggregated_in_postgres_with_the_plain_numbers(pg_url: str, days: int) -> None:
    # GIVEN 3,000 executions of a workflow of its own over 40 days in Postgres
    upgrade(pg_url)
    workflow = f"stats_probe_{days}"
    rows = seed(pg_url, workflow, 3000, seed_value=days)
    # WHEN the statistics over `days` days are read
    got, loaded = answer(pg_url, workflow, days)
    # THEN no execution row was loaded into memory
    assert loaded == 0
    # AND the numbers (per workflow and per day) are those of the plain computation
    want = expected(rows, days)
    assert close(got, want), {k: (got[k], want[k]) for k in want if not close(got[k], want[k])}
