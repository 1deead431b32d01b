"""Holiday calendars: Madrid's 2026 public holidays, policies, bad input naming the field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.calendar import Calendar, CalendarError, calendar_for
from chalicelib.domain.schedule import Occurrence, ScheduleError, Skipped, WorkflowSchedule, evaluate_at

MADRID_2026 = {
    date(2026, 1, 1),
    date(2026, 1, 6),
    date(2026, 4, 2),
    date(2026, 4, 3),
    date(2026, 5, 1),
    date(2026, 5, 2),
    date(2026, 8, 15),
    date(2026, 10, 12),
    date(2026, 11, 2),
    date(2026, 12, 7),
    date(2026, 12, 8),
    date(2026, 12, 25),
}


def test_madrid_2026_has_its_twelve_public_holidays() -> None:
    # GIVEN the national + Comunidad de Madrid calendar
    calendar = calendar_for("es", "md")
    # THEN it lists the 12 days (Madrid Day and the Monday substitutes included)
    assert set(calendar.holidays_in(2026)) == MADRID_2026
    assert calendar.holiday(date(2026, 5, 2)) == "Madrid Day"


@pytest.mark.parametrize("day", sorted(MADRID_2026))
def test_daily_run_is_skipped_on_every_madrid_holiday_under_skip(day: date) -> None:
    # GIVEN 08:00 Madrid with holiday_policy skip
    schedule = WorkflowSchedule("0 8 * * *", holiday_policy="skip")
    at = datetime(day.year, day.month, day.day, 8, 0, tzinfo=ZoneInfo("Europe/Madrid"))
    # WHEN the dispatcher decides at that local instant
    decision = evaluate_at(schedule, "Europe/Madrid", at, Calendar("ES", "MD"))
    # THEN the instant is dropped, naming the holiday; with "run" it runs
    assert isinstance(decision, Skipped) and decision.reason == "holiday" and decision.holiday
    ran = evaluate_at(WorkflowSchedule("0 8 * * *"), "Europe/Madrid", at, Calendar("ES", "MD"))
    assert isinstance(ran, Occurrence) and ran.reason == "holiday_run"


def test_a_regional_holiday_is_not_a_holiday_elsewhere() -> None:
    # 2026-05-02 is Madrid Day, not a Catalan holiday
    assert Calendar("ES", "MD").is_holiday(date(2026, 5, 2))
    assert not Calendar("ES", "CT").is_holiday(date(2026, 5, 2))


@pytest.mark.parametrize(("country", "subdivision", "field"), [("XX", None, "country"), ("ES", "ZZ", "subdivision")])
def test_unknown_calendar_names_the_field(country: str, subdivision: str | None, field: str) -> None:
    with pytest.raises(CalendarError, match=f"^{field}:"):
        calendar_for(country, subdivision)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"holiday_policy": "maybe"}, "holiday_policy"),
        ({"weekend_cron": "0 10 * *"}, "weekend_cron"),
        ({"weekend_cron": "61 10 * * *"}, "weekend_cron"),
    ],
)
def test_bad_policy_or_weekend_cron_names_the_field(kwargs: dict[str, str], field: str) -> None:
    with pytest.raises(ScheduleError, match=f"^{field}:"):
        WorkflowSchedule("0 8 * * *", **kwargs)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ScheduleError, match="^time:"):
        evaluate_at(WorkflowSchedule("0 8 * * *"), "Europe/Madrid", datetime(2026, 1, 2, 7, 0))
    assert evaluate_at(WorkflowSchedule("0 8 * * *"), "Europe/Madrid", datetime(2026, 1, 2, 7, 0, tzinfo=UTC))
