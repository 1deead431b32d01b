"""Property: every local day from 2026 to 2030, in five zones, the generated UTC rules fired through the
local cloud's clock logic give exactly one dispatch at the configured local time (holidays and DST
change days included). Pure evaluation: the clock's `parse_schedule` + the dispatcher's decision."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.calendar import Calendar
from chalicelib.domain.schedule import Occurrence, WorkflowSchedule, evaluate_at
from chalicelib.services.scheduling import desired_rules
from localcloud.clock import parse_schedule

FIRST, LAST = date(2026, 1, 1), date(2030, 12, 31)
ZONES = {
    "Europe/Madrid": Calendar("ES", "MD"),
    "Atlantic/Canary": Calendar("ES", "CN"),
    "Europe/Lisbon": Calendar("PT"),
    "America/New_York": Calendar("US", "NY"),
    "Australia/Sydney": Calendar("AU", "NSW"),
}


def fire_every_rule(
    schedule: WorkflowSchedule, tz: str, calendar: Calendar, *, step: timedelta = timedelta(hours=1)
) -> tuple[list[Occurrence], int]:
    """Walk UTC from a day before FIRST to a day after LAST; at each instant any generated rule matches
    (through the clock's parser), ask the dispatcher's decision. Returns the runs and the firings."""
    rules = desired_rules([("probe", schedule, tz)], [], stage="prop", now=datetime(2026, 1, 1, tzinfo=UTC))
    schedules = [parse_schedule(r.schedule_expression) for r in rules if r.target_id == "dispatch"]
    at = datetime.combine(FIRST - timedelta(days=1), datetime.min.time(), UTC)
    end = datetime.combine(LAST + timedelta(days=2), datetime.min.time(), UTC)
    runs, firings = [], 0
    while at < end:
        if any(s.matches(at) for s in schedules):
            firings += 1
            decision = evaluate_at(schedule, tz, at, calendar)
            if isinstance(decision, Occurrence) and FIRST <= decision.run_date <= LAST:
                runs.append(decision)
        at += step
    return runs, firings


def days() -> list[date]:
    return [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]


@pytest.mark.parametrize("tz", sorted(ZONES))
@pytest.mark.parametrize("policy", ["run", "skip", "next_business_day"])
def test_one_dispatch_per_local_day_at_eight(tz: str, policy: str) -> None:
    # GIVEN the daily workflow at 08:00 local under a holiday policy, in a zone with DST
    calendar = ZONES[tz]
    schedule = WorkflowSchedule("0 8 * * *", holiday_policy=policy)
    # WHEN every generated UTC rule is fired through the clock for five years
    runs, firings = fire_every_rule(schedule, tz, calendar)
    # THEN each run is at 08:00 local on the day it is named for
    assert all(r.local_time == "08:00" for r in runs)
    assert all(r.instant.astimezone(ZoneInfo(tz)).date() == r.run_date for r in runs)
    # AND there is exactly one per local day, none on a holiday unless the policy runs them
    per_day = Counter(r.run_date for r in runs)
    expected = {d: 0 if policy != "run" and calendar.is_holiday(d) else 1 for d in days()}
    wrong = {d: (per_day.get(d, 0), n) for d, n in expected.items() if per_day.get(d, 0) != n}
    assert wrong == {}
    # AND the rules fired more often than they ran (the other UTC offsets), each firing harmless
    assert firings >= len(days())
    holidays = sum(1 for d in days() if calendar.is_holiday(d))
    assert sum(per_day.values()) == len(days()) - (0 if policy == "run" else holidays)


def test_weekly_run_moves_to_the_next_business_day_after_a_monday_holiday() -> None:
    # GIVEN the weekly workflow, Monday 09:00 Madrid, next_business_day
    calendar = ZONES["Europe/Madrid"]
    schedule = WorkflowSchedule("0 9 * * 1", holiday_policy="next_business_day")
    # WHEN its rules are fired for five years
    runs, _ = fire_every_rule(schedule, "Europe/Madrid", calendar)
    # THEN there is exactly one run per ISO week, at 09:00 local
    weeks = Counter(r.run_date.isocalendar()[:2] for r in runs)
    assert set(weeks.values()) == {1}
    assert all(r.local_time == "09:00" for r in runs)
    # AND it runs on Monday unless Monday is a holiday, then on the next business day (one run that day)
    for run in runs:
        monday = run.run_date - timedelta(days=run.run_date.weekday())
        if calendar.is_holiday(monday):
            assert run.reason == "shifted" and run.shifted_from is not None
            nxt = monday + timedelta(days=1)
            while not calendar.is_business_day(nxt):
                nxt += timedelta(days=1)
            assert run.run_date == nxt
        else:
            assert (run.run_date, run.reason) == (monday, "scheduled")
    # (2026-11-02 and 2026-12-07 are Madrid's Monday holidays: both runs moved to Tuesday)
    moved = {r.shifted_from: r.run_date for r in runs if r.shifted_from}
    assert moved[date(2026, 11, 2)] == date(2026, 11, 3)
    assert moved[date(2026, 12, 7)] == date(2026, 12, 9)  # Tuesday 12-08 is a holiday too


def test_weekend_cron_fires_only_on_weekends_and_weekdays_keep_theirs() -> None:
    # GIVEN 08:00 on weekdays and 10:00 on weekends, Madrid
    calendar = ZONES["Europe/Madrid"]
    schedule = WorkflowSchedule("0 8 * * *", weekend_cron="0 10 * * *")
    # WHEN fired for five years
    runs, _ = fire_every_rule(schedule, "Europe/Madrid", calendar)
    # THEN one run a day: 10:00 exactly on Saturdays and Sundays, 08:00 on the other days
    assert Counter(Counter(r.run_date for r in runs).values()) == Counter({1: len(days())})
    assert all((r.local_time == "10:00") == (r.run_date.weekday() >= 5) for r in runs)


def test_weekend_skip_has_no_weekend_runs() -> None:
    calendar = ZONES["Europe/Madrid"]
    runs, _ = fire_every_rule(WorkflowSchedule("0 8 * * *", weekend_cron="skip"), "Europe/Madrid", calendar)
    assert {r.run_date.weekday() for r in runs} == {0, 1, 2, 3, 4}
    assert len(runs) == sum(1 for d in days() if d.weekday() < 5)
