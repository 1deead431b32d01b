"""GET /statistics' read model on SQLite: aggregated by the database (no execution row is loaded into
memory), with the same numbers as the plain computation over every row."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.db.migrate import upgrade
from tests.orchestrator.statistics_check import answer, close, expected, seed


@pytest.mark.parametrize("days", [1, 30, 366])
def test_statistics_are_aggregated_in_sql_with_the_plain_numbers(tmp_path: Path, days: int) -> None:
    # GIVEN 3,000 executions of a workflow over 40 days in an SQLite database
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    upgrade(url)
    rows = seed(url, "stats_probe", 3000)
    # WHEN the statistics over `days` days are read
    got, loaded = answer(url, "stats_probe", days)
    # THEN no execution row was loaded into memory
    assert loaded == 0
    # AND the numbers (per workflow and per day) are those of the plain computation
    want = expected(rows, days)
    assert close(got, want), {k: (got[k], want[k]) for k in want if not close(got[k], want[k])}
