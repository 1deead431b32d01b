"""Rare and impossible crons: next runs are found by jumping from one match of the cron to the next (never
minute by minute over the horizon), the search is bounded, and a schedule that never runs within the
horizon is refused with a message naming the field."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain.calendar import Calendar
from chalicelib.domain.schedule import (
    HORIZON_DAYS,
    ScheduleError,
    WorkflowSchedule,
    candidate_instants,
    check_fires,
    next_occurrence,
)
from chalicelib.domain.workflows import validate_definition

MADRID = Calendar("ES", "MD")
MADRID_ZONE = ZoneInfo("Europe/Madrid")
AFTER = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_a_leap_day_cron_is_found_by_jumping_to_its_matches() -> None:
    # GIVEN "every minute of 29 February"
    schedule = WorkflowSchedule("* * 29 2 *")
    # WHEN the candidates over 800 days are listed
    end = datetime(2029, 2, 9, tzinfo=UTC)
    found = list(islice(candidate_instants(schedule, "Europe/Madrid", AFTER, end), 5000))
    # THEN they are the 1,440 minutes of 29 February 2028 only (not one per minute of 800 days)
    assert len(found) == 1440
    assert {f.astimezone(MADRID_ZONE).date().isoformat() for f in found} == {"2028-02-29"}
    # AND the next run is its first minute, local time
    occurrence, _ = next_occurrence(schedule, "Europe/Madrid", AFTER, MADRID)
    assert occurrence is not None and occurrence.run_date.isoformat() == "2028-02-29"
    assert occurrence.local_time == "00:00"


def test_a_shifted_run_is_still_found_under_next_business_day() -> None:
    # GIVEN Monday 09:00 with holidays moved to the next business day; 2026-12-07 is a Madrid holiday
    schedule = WorkflowSchedule("0 9 * * 1", holiday_policy="next_business_day")
    # WHEN the next run after 2026-12-05 is asked
    occurrence, skipped = next_occurrence(schedule, "Europe/Madrid", datetime(2026, 12, 5, tzinfo=UTC), MADRID)
    # THEN Monday is skipped and the run lands on Wednesday 12-09 (12-08 is a holiday too) at 09:00
    assert occurrence is not None and (occurrence.run_date.isoformat(), occurrence.reason) == ("2026-12-09", "shifted")
    assert [s.local_date.isoformat() for s in skipped] == ["2026-12-07"]


@pytest.mark.parametrize(
    ("cron", "weekend", "field"),
    [
        ("0 0 * 2 1#5", None, "cron_expression"),  # a fifth Monday in February: next in 2044
        ("* * * * 6,0", "skip", "weekend_cron"),  # weekends only, and weekends skipped
    ],
)
def test_a_schedule_that_never_runs_within_the_horizon_is_refused_naming_the_field(
    cron: str, weekend: str | None, field: str
) -> None:
    with pytest.raises(ScheduleError, match=f"{field}: .*never runs within {HORIZON_DAYS} days"):
        check_fires(WorkflowSchedule(cron, weekend_cron=weekend), "Europe/Madrid", AFTER)
    with pytest.raises(ValueError, match=field):
        validate_definition({"cron_expression": cron, "weekend_cron": weekend}, now=AFTER)


def test_the_search_for_a_next_run_is_bounded_by_candidates_too() -> None:
    # GIVEN every minute, but a calendar that drops each of them (weekends skipped, looked at from Saturday)
    schedule = WorkflowSchedule("* * * * 6,0", weekend_cron="skip")
    # WHEN the next run is asked with a small candidate budget
    occurrence, _ = next_occurrence(schedule, "Europe/Madrid", datetime(2026, 12, 5, tzinfo=UTC), max_candidates=100)
    # THEN the answer is "none within the bounds", not a search through four years of minutes
    assert occurrence is None
