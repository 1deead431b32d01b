"""Local-time cron evaluation and the UTC EventBridge rules that cover it.

EventBridge evaluates cron in UTC only; a workflow says "08:00 Europe/Madrid". The rules fire at every UTC
minute the local time can fall on, and the dispatcher decides by the local clock whether a run is due.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError


class ScheduleError(ValueError):
    """An invalid cron expression or timezone; the message names which."""


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"timezone: unknown timezone {name!r}") from exc


def validate_cron(expr: str) -> str:
    if len(expr.split()) != 5:
        raise ScheduleError(f"cron_expression: expected 5 fields (minute hour day month weekday), got {expr!r}")
    try:
        CronSim(expr, datetime(2026, 1, 1))
    except CronSimError as exc:
        raise ScheduleError(f"cron_expression: invalid cron {expr!r}: {exc}") from exc
    return expr


def is_due(expr: str, tz: str, at: datetime) -> bool:
    """True when the local cron has a scheduled instant in the UTC minute containing `at`."""
    local_zone = zone(tz)
    minute = at.astimezone(UTC).replace(second=0, microsecond=0)
    start = (minute - timedelta(minutes=1)).astimezone(local_zone)
    nxt = next(CronSim(validate_cron(expr), start))
    return nxt.astimezone(UTC) == minute


def local_date(tz: str, at: datetime):  # noqa: ANN201 - returns datetime.date
    return at.astimezone(zone(tz)).date()


def utc_rule_times(expr: str, timezones: list[str], *, start: datetime, days: int = 800) -> list[tuple[int, int]]:
    """Every (minute, hour) in UTC at which `expr` fires in any of `timezones` over `days` days.

    800 days cover every DST transition of two years, so each offset a zone takes is seen.
    """
    times: set[tuple[int, int]] = set()
    end = start + timedelta(days=days)
    for tz in timezones:
        for fire in CronSim(validate_cron(expr), start.astimezone(zone(tz))):
            if fire.astimezone(UTC) >= end:
                break
            utc = fire.astimezone(UTC)
            times.add((utc.minute, utc.hour))
    return sorted(times, key=lambda mh: (mh[1], mh[0]))


def rule_expression(minute: int, hour: int) -> str:
    return f"cron({minute} {hour} * * ? *)"
