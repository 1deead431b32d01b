"""Holiday and weekend calendars per tenant country/subdivision (the `holidays` package).

A calendar answers two questions about a *local* date: is it a public holiday (and which), and is it a
weekend day (the country's weekend, Saturday and Sunday for Spain). The dispatcher asks them in the
scope's local time; tenants of one timezone may follow different calendars (Madrid and Barcelona share
Europe/Madrid but not their regional holidays), so calendars are keyed by (country, subdivision).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import holidays

HOLIDAY_POLICIES = ("skip", "next_business_day", "run")
WEEKEND_SKIP = "skip"


class CalendarError(ValueError):
    """An unknown country or subdivision; the message names the field."""


@lru_cache(maxsize=512)
def _holidays_of(country: str, subdivision: str | None, year: int) -> dict[date, str]:
    try:
        table = holidays.country_holidays(country, subdiv=subdivision, years=year)
    except NotImplementedError as exc:
        field = "subdivision" if "subdivision" in str(exc) else "country"
        raise CalendarError(f"{field}: {exc}") from None
    return dict(table.items())


@lru_cache(maxsize=128)
def _weekend_of(country: str, subdivision: str | None) -> frozenset[int]:
    try:
        table = holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:
        field = "subdivision" if "subdivision" in str(exc) else "country"
        raise CalendarError(f"{field}: {exc}") from None
    return frozenset(table.weekend)


@dataclass(frozen=True, order=True)
class Calendar:
    """The public holidays and weekend of one country (and optional subdivision). `country=None`: none."""

    country: str | None = "ES"
    subdivision: str | None = None

    def __post_init__(self) -> None:
        if self.country is not None:
            _weekend_of(self.country, self.subdivision)  # validates both fields now, not at 08:00

    @property
    def key(self) -> str:
        if self.country is None:
            return "none"
        return f"{self.country}-{self.subdivision}" if self.subdivision else self.country

    def holiday(self, day: date) -> str | None:
        """The holiday's name on `day`, or None."""
        if self.country is None:
            return None
        return _holidays_of(self.country, self.subdivision, day.year).get(day)

    def is_holiday(self, day: date) -> bool:
        return self.holiday(day) is not None

    def is_weekend(self, day: date) -> bool:
        weekend = _weekend_of(self.country, self.subdivision) if self.country else frozenset({5, 6})
        return day.weekday() in weekend

    def is_business_day(self, day: date) -> bool:
        return not self.is_weekend(day) and not self.is_holiday(day)

    def holidays_in(self, year: int) -> dict[date, str]:
        if self.country is None:
            return {}
        return dict(sorted(_holidays_of(self.country, self.subdivision, year).items()))


NO_HOLIDAYS = Calendar(country=None)


def calendar_for(country: str | None, subdivision: str | None) -> Calendar:
    """The calendar of a tenant; a blank country means "no public holidays"."""
    country = (country or "").strip().upper() or None
    subdivision = (subdivision or "").strip().upper() or None
    if country is None:
        return NO_HOLIDAYS
    return Calendar(country, subdivision)


def validate_holiday_policy(policy: str) -> str:
    if policy not in HOLIDAY_POLICIES:
        raise CalendarError(f"holiday_policy: expected one of {', '.join(HOLIDAY_POLICIES)}, got {policy!r}")
    return policy
