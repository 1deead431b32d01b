"""The UTC rules derived from a local schedule: minimal, covering every offset, DST gaps included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.domain.schedule import (
    WorkflowSchedule,
    next_occurrence,
    occurrence_at,
    rule_expressions,
    utc_rule_times,
)
from chalicelib.services.scheduling import desired_rules
from localcloud.clock import parse_schedule

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_madrid_and_canary_share_one_rule_over_three_utc_hours() -> None:
    times = utc_rule_times("0 8 * * *", ["Europe/Madrid", "Atlantic/Canary"], start=START)
    assert rule_expressions(times) == ["cron(0 6,7,8 * * ? *)"]


def test_hours_with_different_minutes_get_separate_rules_and_no_extra_firings() -> None:
    # Asia/Kolkata (+05:30, no DST) and Madrid: 08:00 local is 02:30 UTC and 06:00/07:00 UTC
    times = utc_rule_times("0 8 * * *", ["Asia/Kolkata", "Europe/Madrid"], start=START)
    assert rule_expressions(times) == ["cron(30 2 * * ? *)", "cron(0 6,7 * * ? *)"]


def test_a_local_time_in_the_spring_gap_is_covered_where_it_fires() -> None:
    # GIVEN 02:30 Madrid, which does not exist on 2026-03-29 (02:00 -> 03:00)
    schedule = WorkflowSchedule("30 2 * * *")
    rules = [
        parse_schedule(r.schedule_expression)
        for r in desired_rules([("gap", schedule, "Europe/Madrid")], [], stage="t", now=START)
        if r.target_id == "dispatch"
    ]
    # WHEN every minute of that day is fired through the clock
    day = datetime(2026, 3, 29, 0, 0, tzinfo=UTC) - timedelta(hours=2)
    runs = [
        occurrence_at(schedule, "Europe/Madrid", day + timedelta(minutes=m))
        for m in range(24 * 60)
        if any(r.matches(day + timedelta(minutes=m)) for r in rules)
    ]
    # THEN exactly one run happens on the local date, at the end of the gap (03:00 CEST = 01:00 UTC)
    ran = [r for r in runs if r is not None and r.run_date.isoformat() == "2026-03-29"]
    assert [r.instant.isoformat() for r in ran] == ["2026-03-29T01:00:00+00:00"]


def test_every_rule_minute_is_exact_no_spurious_minutes() -> None:
    # GIVEN the daily rules for five zones; WHEN every minute of a week is fired
    zones = ["Europe/Madrid", "Atlantic/Canary", "Europe/Lisbon", "America/New_York", "Australia/Sydney"]
    rules = [parse_schedule(e) for e in rule_expressions(utc_rule_times("0 8 * * *", zones, start=START))]
    fired = {(m % 60) for m in range(7 * 1440) if any(r.matches(START + timedelta(minutes=m)) for r in rules)}
    # THEN they only fire on the hour
    assert fired == {0}


def test_next_occurrence_reports_the_holidays_it_skipped() -> None:
    from chalicelib.domain.calendar import Calendar

    # GIVEN 2026-12-24 evening, skip policy: 12-25 is Christmas
    schedule = WorkflowSchedule("0 8 * * *", holiday_policy="skip")
    nxt, skipped = next_occurrence(
        schedule, "Europe/Madrid", datetime(2026, 12, 24, 12, tzinfo=UTC), Calendar("ES", "MD")
    )
    assert nxt is not None and nxt.run_date.isoformat() == "2026-12-26"
    assert [s.holiday for s in skipped] == ["Christmas Day"]
