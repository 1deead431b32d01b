"""Local-time cron against UTC: due instants, DST and the UTC rules that cover a zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.schedule import ScheduleError, is_due, local_date, utc_rule_times, validate_cron


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "tz", "due"),
    [
        (utc(2026, 11, 30, 7, 0), "Europe/Madrid", True),  # winter: CET = UTC+1
        (utc(2026, 11, 30, 6, 0), "Europe/Madrid", False),
        (utc(2026, 7, 1, 6, 0), "Europe/Madrid", True),  # summer: CEST = UTC+2
        (utc(2026, 7, 1, 7, 0), "Europe/Madrid", False),
        (utc(2026, 3, 29, 6, 0), "Europe/Madrid", True),  # spring-forward Sunday, 08:00 CEST
        (utc(2026, 3, 29, 7, 0), "Atlantic/Canary", True),  # 08:00 WEST
        (utc(2026, 3, 29, 7, 0), "Europe/Madrid", False),
        (utc(2026, 10, 25, 7, 0), "Europe/Madrid", True),  # fall-back Sunday, 08:00 CET
        (utc(2026, 11, 30, 7, 0, 30), "Europe/Madrid", True),  # any second of the due minute
        (utc(2026, 11, 30, 7, 1), "Europe/Madrid", False),
    ],
)
def test_daily_cron_is_due_at_local_eight(at: datetime, tz: str, due: bool) -> None:
    assert is_due("0 8 * * *", tz, at) is due


def test_local_date_follows_the_scope() -> None:
    assert local_date("Australia/Sydney", utc(2026, 11, 30, 21, 0)).isoformat() == "2026-12-01"


def test_rules_cover_every_offset_of_the_zones() -> None:
    # GIVEN 08:00 local in Madrid (UTC+1/+2) and the Canaries (UTC+0/+1)
    times = utc_rule_times("0 8 * * *", ["Europe/Madrid", "Atlantic/Canary"], start=utc(2026, 1, 1))
    # THEN the rules fire at 06:00, 07:00 and 08:00 UTC
    assert times == [(0, 6), (0, 7), (0, 8)]


@pytest.mark.parametrize(
    ("expr", "field"),
    [("0 8 * *", "cron_expression"), ("61 8 * * *", "cron_expression"), ("x y z a b", "cron_expression")],
)
def test_invalid_cron_names_the_field(expr: str, field: str) -> None:
    with pytest.raises(ScheduleError, match=field):
        validate_cron(expr)


def test_unknown_timezone_names_the_field() -> None:
    with pytest.raises(ScheduleError, match="timezone"):
        is_due("0 8 * * *", "Europe/Atlantis", utc(2026, 1, 1))
