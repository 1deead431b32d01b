"""The ranges of dates and instants the service accepts from outside (API queries, bodies, cursors).

Every date or instant that comes in is checked against these before it reaches a database driver or date
arithmetic: year 1 or 9999 (or an offset that moves them past the calendar's ends) overflow inside
Python's datetime and inside the Postgres driver, in the middle of a statement.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)
EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2100, 1, 1, tzinfo=UTC)  # exclusive
# A manual run is for a local date at most this far from today (either way): a re-run of a missed day or
# a planned one, never year 1 or 9999 (whose "yesterday" and "14 days ahead" do not exist).
RUN_DATE_MAX_DAYS_AWAY = 1096  # three years


class OutOfRangeError(ValueError):
    """A date or instant outside the accepted range; the message names the field and the range."""


def check_date(value: date, field: str) -> date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise OutOfRangeError(
            f"{field}: {value.isoformat()} is out of range (from {EARLIEST_DATE.isoformat()} "
            f"to {LATEST_DATE.isoformat()})"
        )
    return value


def check_instant(value: datetime, field: str) -> datetime:
    """An aware instant between 2000-01-01 and 2100-01-01 UTC (the offset taken into account)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise OutOfRangeError(f"{field}: needs a UTC offset (e.g. 2026-12-01T07:00:00Z)")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_INSTANT <= utc < LATEST_INSTANT:
        raise OutOfRangeError(
            f"{field}: {value.isoformat()} is out of range (from {EARLIEST_INSTANT.isoformat()} "
            f"to before {LATEST_INSTANT.isoformat()})"
        )
    return value


def check_run_date(value: date, today: date, field: str = "run_date") -> date:
    """A run's local date within RUN_DATE_MAX_DAYS_AWAY days of `today` (the scope's local today)."""
    first = today - timedelta(days=RUN_DATE_MAX_DAYS_AWAY)
    last = today + timedelta(days=RUN_DATE_MAX_DAYS_AWAY)
    if not first <= value <= last:
        raise OutOfRangeError(
            f"{field}: {value.isoformat()} is too far from today ({today.isoformat()}): a run date must be "
            f"within {RUN_DATE_MAX_DAYS_AWAY} days of it ({first.isoformat()} to {last.isoformat()})"
        )
    return value
