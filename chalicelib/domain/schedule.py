"""Local-time cron evaluation, the calendar policy, and the UTC EventBridge rules that cover it.

EventBridge evaluates cron in UTC only; a workflow says "08:00 Europe/Madrid". The rules fire at every UTC
minute the local time can fall on (every offset the zone takes), every day, and the dispatcher decides by
the local clock and the calendar whether a run is due: `occurrence_at` is that one decision, used by the
dispatcher, the catch-up, `next_run` and the property test alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from heapq import merge
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from chalicelib.domain.calendar import NO_HOLIDAYS, WEEKEND_SKIP, Calendar, validate_holiday_policy

CATCHUP_POLICIES = ("skip", "latest", "all")
MAX_SHIFT_DAYS = 31  # a holiday's run is moved at most this far (next_business_day)
_MINUTE = timedelta(minutes=1)


class ScheduleError(ValueError):
    """An invalid cron expression, timezone or policy; the message names which."""


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"timezone: unknown timezone {name!r}") from exc


@lru_cache(maxsize=512)
def validate_cron(expr: str, field: str = "cron_expression") -> str:
    if not isinstance(expr, str) or len(expr.split()) != 5:
        raise ScheduleError(f"{field}: expected 5 fields (minute hour day month weekday), got {expr!r}")
    try:
        CronSim(expr, datetime(2026, 1, 1))
    except CronSimError as exc:
        raise ScheduleError(f"{field}: invalid cron {expr!r}: {exc}") from exc
    return expr


def _utc_minute(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ScheduleError(f"time: needs a UTC offset, got naive {at.isoformat()}")
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def _fires_at(expr: str, tz: ZoneInfo, minute: datetime) -> bool:
    """The local cron has an instant in exactly this UTC minute (DST-correct: cronsim works zone-aware)."""
    return next(CronSim(expr, (minute - _MINUTE).astimezone(tz))).astimezone(UTC) == minute


def _fires_at_wall(expr: str, day: date, wall: time) -> bool:
    """The cron names the wall-clock time `wall` on `day` (ignoring whether that day is in DST)."""
    target = datetime.combine(day, wall)
    return next(CronSim(expr, target - _MINUTE)) == target


def is_due(expr: str, tz: str, at: datetime) -> bool:
    """True when the local cron has a scheduled instant in the UTC minute containing `at`."""
    return _fires_at(validate_cron(expr), zone(tz), _utc_minute(at))


def local_date(tz: str, at: datetime) -> date:
    return at.astimezone(zone(tz)).date()


# --- the workflow's schedule and the calendar policy ----------------------------------------------------------
@dataclass(frozen=True)
class WorkflowSchedule:
    """When a workflow runs in local time.

    `weekend_cron`: None -> the same `cron` every day; "skip" -> no runs on the calendar's weekend days;
    a 5-field cron -> that schedule on weekend days instead of `cron`.
    `holiday_policy`: "run" (holidays are ordinary days), "skip" (no run on a public holiday),
    "next_business_day" (the holiday's run moves to the same local time on the next day that is neither
    a weekend day nor a holiday; on that day it is one run, named for that day).
    """

    cron: str
    holiday_policy: str = "run"
    weekend_cron: str | None = None

    def __post_init__(self) -> None:
        validate_cron(self.cron)
        try:
            validate_holiday_policy(self.holiday_policy)
        except ValueError as exc:
            raise ScheduleError(str(exc)) from None
        if self.weekend_cron not in (None, WEEKEND_SKIP):
            validate_cron(self.weekend_cron, "weekend_cron")

    def cron_for(self, day: date, calendar: Calendar) -> str | None:
        if self.weekend_cron is not None and calendar.is_weekend(day):
            return None if self.weekend_cron == WEEKEND_SKIP else self.weekend_cron
        return self.cron

    @property
    def crons(self) -> tuple[str, ...]:
        extra = () if self.weekend_cron in (None, WEEKEND_SKIP) else (self.weekend_cron,)
        return (self.cron, *extra)

    @property
    def many_per_day(self) -> bool:
        """More than one instant a day: executions then carry the local time (`-HHMM`) in their name."""
        return any(len(_local_times(expr)) > 1 for expr in self.crons)


@dataclass(frozen=True)
class Occurrence:
    """A due run: the UTC instant, the local date it is named for and why it runs then."""

    instant: datetime
    run_date: date
    local_time: str  # "HH:MM" in the scope
    reason: str  # "scheduled" | "holiday_run" | "shifted"
    shifted_from: date | None = None
    holiday: str | None = None

    def name_suffix(self, schedule: WorkflowSchedule) -> str | None:
        return self.local_time.replace(":", "") if schedule.many_per_day else None

    def as_dict(self) -> dict[str, object]:
        return {
            "instant": self.instant.isoformat(),
            "run_date": self.run_date.isoformat(),
            "local_time": self.local_time,
            "reason": self.reason,
            "shifted_from": self.shifted_from.isoformat() if self.shifted_from else None,
            "holiday": self.holiday,
        }


@dataclass(frozen=True)
class Skipped:
    """A scheduled instant the calendar policy dropped (or moved away)."""

    instant: datetime
    local_date: date
    reason: str  # "holiday" | "holiday_moved"
    holiday: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "instant": self.instant.isoformat(),
            "local_date": self.local_date.isoformat(),
            "reason": self.reason,
            "holiday": self.holiday,
        }


def evaluate_at(
    schedule: WorkflowSchedule, tz: str, at: datetime, calendar: Calendar = NO_HOLIDAYS
) -> Occurrence | Skipped | None:
    """The decision for one scope at one UTC minute: a run (Occurrence), a dropped instant (Skipped) or
    nothing scheduled (None). Pure: the same inputs always give the same answer."""
    local_zone = zone(tz)
    minute = _utc_minute(at)
    local = minute.astimezone(local_zone)
    day = local.date()
    wall = local.strftime("%H:%M")
    expr = schedule.cron_for(day, calendar)
    if expr is not None and _fires_at(expr, local_zone, minute):
        holiday = calendar.holiday(day)
        if holiday is None:
            return Occurrence(minute, day, wall, "scheduled")
        if schedule.holiday_policy == "run":
            return Occurrence(minute, day, wall, "holiday_run", holiday=holiday)
        moved = schedule.holiday_policy == "next_business_day"
        return Skipped(minute, day, "holiday_moved" if moved else "holiday", holiday)
    if schedule.holiday_policy == "next_business_day" and calendar.is_business_day(day):
        # A holiday's run lands here when the days between that holiday and today are all non-business days.
        earlier = day - timedelta(days=1)
        for _ in range(MAX_SHIFT_DAYS):
            if calendar.is_business_day(earlier):
                break
            holiday = calendar.holiday(earlier)
            earlier_expr = schedule.cron_for(earlier, calendar)
            if holiday is not None and earlier_expr is not None and _fires_at_wall(earlier_expr, earlier, local.time()):
                return Occurrence(minute, day, wall, "shifted", shifted_from=earlier, holiday=holiday)
            earlier -= timedelta(days=1)
    return None


def occurrence_at(
    schedule: WorkflowSchedule, tz: str, at: datetime, calendar: Calendar = NO_HOLIDAYS
) -> Occurrence | None:
    decision = evaluate_at(schedule, tz, at, calendar)
    return decision if isinstance(decision, Occurrence) else None


def _any_day(expr: str) -> str:
    minute, hour, *_ = expr.split()
    return f"{minute} {hour} * * *"


def candidate_instants(schedule: WorkflowSchedule, tz: str, start: datetime, end: datetime) -> Iterator[datetime]:
    """Every UTC minute in [start, end) at which `evaluate_at` can say anything: the crons' local times
    on every day (a shifted run keeps its local time, a weekend cron has its own)."""
    local_zone = zone(tz)
    begin = _utc_minute(start) - _MINUTE

    def instants(expr: str) -> Iterator[datetime]:
        for fire in CronSim(_any_day(expr), begin.astimezone(local_zone)):
            utc = fire.astimezone(UTC)
            if utc >= end:
                return
            yield utc

    last = None
    for utc in merge(*(instants(expr) for expr in sorted(set(schedule.crons)))):
        if utc != last:
            last = utc
            yield utc


def occurrences(
    schedule: WorkflowSchedule, tz: str, start: datetime, end: datetime, calendar: Calendar = NO_HOLIDAYS
) -> Iterator[Occurrence | Skipped]:
    """The decisions in [start, end), oldest first (runs and dropped instants; nothing-scheduled omitted)."""
    for instant in candidate_instants(schedule, tz, start, end):
        decision = evaluate_at(schedule, tz, instant, calendar)
        if decision is not None:
            yield decision


def next_occurrence(
    schedule: WorkflowSchedule, tz: str, after: datetime, calendar: Calendar = NO_HOLIDAYS, *, horizon_days: int = 800
) -> tuple[Occurrence | None, list[Skipped]]:
    """The first run strictly after `after`, and the instants dropped on the way (holidays)."""
    skipped: list[Skipped] = []
    start = _utc_minute(after) + _MINUTE
    for decision in occurrences(schedule, tz, start, start + timedelta(days=horizon_days), calendar):
        if isinstance(decision, Occurrence):
            return decision, skipped
        skipped.append(decision)
    return None, skipped


# --- the UTC rules --------------------------------------------------------------------------------------------
@lru_cache(maxsize=256)
def _local_times(expr: str) -> tuple[tuple[int, int], ...]:
    """(minute, hour) local pairs the cron can fire at."""
    sim = CronSim(validate_cron(expr), datetime(2026, 1, 1))
    return tuple(sorted((m, h) for h in sim.hours for m in sim.minutes))


def _offsets_and_transitions(tz: str, start: datetime, days: int) -> tuple[set[timedelta], list[date]]:
    local_zone = zone(tz)
    offsets: set[timedelta] = set()
    transitions: list[date] = []
    previous = None
    for step in range(days * 4 + 1):
        offset = (start + timedelta(hours=6 * step)).astimezone(local_zone).utcoffset()
        if offset is None:  # an aware datetime always has one
            raise ScheduleError(f"timezone {tz!r} gives no UTC offset")
        offsets.add(offset)
        if previous is not None and offset != previous:
            transitions.append((start + timedelta(hours=6 * step)).astimezone(local_zone).date())
        previous = offset
    return offsets, transitions


def utc_rule_times(
    expr: str | Iterable[str], timezones: list[str], *, start: datetime, days: int = 800
) -> list[tuple[int, int]]:
    """Every (minute, hour) in UTC at which the local cron(s) can fire in any of `timezones` over `days`.

    Each local time at each UTC offset the zone takes (800 days see every DST change of two years), plus
    the instants of the DST change days themselves (a local time in the spring gap fires at the gap's end).
    """
    exprs = [expr] if isinstance(expr, str) else list(expr)
    times: set[tuple[int, int]] = set()
    for tz in timezones:
        offsets, transitions = _offsets_and_transitions(tz, start.astimezone(UTC), days)
        for one in exprs:
            for minute, hour in _local_times(one):
                for offset in offsets:
                    total = (hour * 60 + minute - int(offset.total_seconds()) // 60) % 1440
                    times.add((total % 60, total // 60))
            for day in transitions:
                begin = datetime.combine(day - timedelta(days=1), time(0), zone(tz))
                for fire in CronSim(_any_day(one), begin):
                    if fire.date() > day + timedelta(days=1):
                        break
                    utc = fire.astimezone(UTC)
                    times.add((utc.minute, utc.hour))
    return sorted(times, key=lambda mh: (mh[1], mh[0]))


def rule_expressions(times: Iterable[tuple[int, int]]) -> list[str]:
    """The fewest `cron(...)` expressions that fire at exactly these UTC (minute, hour) pairs, every day.

    Hours sharing the same minutes share one rule: 06:00, 07:00 and 08:00 become `cron(0 6,7,8 * * ? *)`.
    """
    minutes_by_hour: dict[int, set[int]] = {}
    for minute, hour in times:
        minutes_by_hour.setdefault(hour, set()).add(minute)
    hours_by_minutes: dict[tuple[int, ...], list[int]] = {}
    for hour, minutes in sorted(minutes_by_hour.items()):
        hours_by_minutes.setdefault(tuple(sorted(minutes)), []).append(hour)
    return [
        f"cron({','.join(map(str, minutes))} {','.join(map(str, hours))} * * ? *)"
        for minutes, hours in sorted(hours_by_minutes.items(), key=lambda item: (item[1][0], item[0]))
    ]
