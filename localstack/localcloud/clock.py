"""EventBridge clock: fires scheduled rules stored in moto (which never fires them).

Rules and targets are read through the public EventBridge API, so anything that
created them (infra code, tests) works unchanged. Time is passed in explicitly, which
makes catch-up and "fired twice" scenarios reproducible.
"""

from __future__ import annotations

import calendar
import functools
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cronsim import CronSim, CronSimError

LOG = logging.getLogger(__name__)


class ScheduleError(ValueError):
    """The ScheduleExpression is not valid for EventBridge."""


# --- schedule expressions ----------------------------------------------------------
# AWS cron is `minutes hours day-of-month month day-of-week year`, in UTC. cronsim evaluates the first five
# once translated: `?` becomes `*`, days of week 1-7 (SUN-SAT) become 0-6. What cronsim has no syntax for is
# done here: the year field filters its instants, and `nW` (the weekday nearest day n) asks it for days
# n-2..n+2 and keeps the nearest weekday. Where cronsim reads a field differently from AWS ("4-4/2",
# "L/2", a day-of-week step running on to its day 7), the field is rewritten or refused first.

_DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_YEARS = range(1970, 2200)
_NEAREST_WEEKDAY = re.compile(r"^(\d+)W$")
_RATE_RE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_RATE_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _as_utc(at: datetime) -> datetime:
    """Naive datetimes are taken as UTC (EventBridge cron is evaluated in UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _utc_minute(at: datetime) -> datetime:
    """Schedules have minute granularity."""
    return _as_utc(at).replace(second=0, microsecond=0)


def _day_of_week(text: str) -> str:
    """An AWS day-of-week field in cronsim's numbering."""

    def day(token: str) -> str:
        if token in _DAY_NAMES:
            return str(_DAY_NAMES.index(token))
        if token.isdigit() and 1 <= int(token) <= 7:
            return str(int(token) - 1)
        raise ScheduleError(f"bad day-of-week value {token!r} (allowed 1-7 or SUN-SAT)")

    parts = []
    for part in text.split(","):
        if part == "L":  # the last day of the week: Saturday
            parts.append("6")
        elif part.endswith("L"):  # "6L": the month's last Friday
            parts.append(day(part[:-1]) + "L")
        elif "#" in part:  # "2#1": the month's first Monday
            first, _, nth = part.partition("#")
            parts.append(f"{day(first)}#{nth}")
        else:
            base, slash, step = part.partition("/")
            first, dash, last = base.partition("-")
            if dash:
                base = f"{day(first)}-{day(last)}"
            elif slash:  # "a/n" and "*/n" end on Saturday (cronsim would go on to 7, a second Sunday)
                base = f"{'0' if base == '*' else day(base)}-6"
            elif base != "*":
                base = day(base)
            parts.append(base + slash + step)
    return ",".join(parts)


def _years(text: str) -> frozenset[int] | None:
    """The year field's years (None: every year): `*`, `a`, `a-b`, each with an optional `/n`, or a list."""
    if text == "*":
        return None
    years: set[int] = set()
    for part in text.split(","):
        base, slash, step = part.partition("/")
        first, dash, last = (str(_YEARS[0]), "-", str(_YEARS[-1])) if base == "*" else base.partition("-")
        if not dash:
            last = str(_YEARS[-1]) if slash else first  # "2026/2": from 2026 every 2 years
        valid = first.isdigit() and last.isdigit() and _YEARS[0] <= int(first) <= int(last) <= _YEARS[-1]
        if not valid or (slash and not (step.isdigit() and int(step) > 0)):
            raise ScheduleError(f"bad year {part!r} (allowed {_YEARS[0]}-{_YEARS[-1]}, as a-b, a/n, *, lists)")
        years.update(range(int(first), int(last) + 1, int(step) if slash else 1))
    return frozenset(years)


def _nearest_weekday(target: int, day: date) -> bool:
    """`nW`: ``day`` is the weekday nearest to day n of its month, without leaving the month."""
    last = calendar.monthrange(day.year, day.month)[1]
    if target > last:
        return False
    weekday = calendar.weekday(day.year, day.month, target)
    if weekday == 5:  # Saturday -> Friday, or Monday when the 1st is a Saturday
        target = target - 1 if target > 1 else target + 2
    elif weekday == 6:  # Sunday -> Monday, or Friday when Sunday is the month's last day
        target = target + 1 if target < last else target - 2
    return day.day == target


@dataclass(frozen=True)
class _Cron:
    """One cronsim expression (5 fields, UTC) and the filters for what cronsim cannot express."""

    expression: str
    years: frozenset[int] | None
    day: Callable[[date], bool] | None = None

    def next_at_or_after(self, at: datetime) -> datetime | None:
        while True:
            try:
                found: datetime = next(CronSim(self.expression, at - timedelta(seconds=1)))
            except StopIteration:  # cronsim gives up after 50 years without an instant
                return None
            if found.year > _YEARS[-1]:  # AWS's last year: also ends the search for an `nW` that never is
                return None
            if self.years is not None and found.year not in self.years:
                later = [year for year in self.years if year > found.year]
                if not later:
                    return None
                at = datetime(min(later), 1, 1, tzinfo=UTC)
            elif self.day is not None and not self.day(found.date()):
                at = datetime.combine(found.date() + timedelta(days=1), time(), UTC)
            else:
                return found


def _cron(expression: str, years: frozenset[int] | None, day: Callable[[date], bool] | None = None) -> _Cron | None:
    """The validated cronsim part; None when no month of it has its day (February 30): it never fires."""
    fields = [_single_values(field) for field in expression.split()]
    expression = " ".join(fields)
    try:
        CronSim(expression, _EPOCH)
    except CronSimError as exc:
        minutes, hours, dom, month, dow = fields
        try:  # each field valid on its own: cronsim refuses the impossible day, AWS accepts it
            CronSim(f"{minutes} {hours} * {month} {dow}", _EPOCH)
            CronSim(f"{minutes} {hours} {dom} * {dow}", _EPOCH)
        except CronSimError:
            raise ScheduleError(f"{exc} in {expression!r} (cronsim's form: '?' as '*', days of week 0-6)") from exc
        return None
    return _Cron(expression, years, day)


def _single_values(field: str) -> str:
    """cronsim reads a one-value range with a step, "4-4/2", as "4/2" (4, 6, 8, ...): write it "4-4"."""
    parts = []
    for part in field.split(","):
        base, slash, step = part.partition("/")
        first, dash, last = base.partition("-")
        same = first == last or (first.isdigit() and last.isdigit() and int(first) == int(last))
        parts.append(base if slash and dash and same and step.isdigit() and int(step) > 0 else part)
    return ",".join(parts)


def _day_of_month(text: str) -> list[tuple[str, Callable[[date], bool] | None]]:
    """An AWS day-of-month field as cronsim day-of-month fields, each with the filter its days need."""
    plain: list[str] = []
    nearest: list[tuple[str, Callable[[date], bool] | None]] = []
    for part in text.split(","):
        match = _NEAREST_WEEKDAY.match(part)
        if match:
            n = int(match.group(1))
            if not 1 <= n <= 31:
                raise ScheduleError(f"bad day-of-month value {part!r} (allowed 1W-31W)")
            nearest.append((f"{max(1, n - 2)}-{min(31, n + 2)}", functools.partial(_nearest_weekday, n)))
        elif part.startswith("L") and part not in ("L", "LW"):
            raise ScheduleError(f"bad day-of-month value {part!r}")  # cronsim would read "L/2" as "L"
        else:
            plain.append(part)
    return ([(",".join(plain), None)] if plain else []) + nearest


def _cron_schedule(body: str) -> Callable[[datetime], datetime | None]:
    fields = body.upper().split()
    if len(fields) != 6:
        raise ScheduleError("cron() needs 6 fields: minutes hours day-of-month month day-of-week year")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError("exactly one of day-of-month and day-of-week must be '?'")
    years = _years(year)
    if dom == "?":
        crons = [_cron(f"{minutes} {hours} * {month} {_day_of_week(dow)}", years)]
    else:
        crons = [_cron(f"{minutes} {hours} {days} {month} *", years, day) for days, day in _day_of_month(dom)]
    firing = [cron for cron in crons if cron is not None]

    def next_at_or_after(at: datetime) -> datetime | None:
        return min((i for cron in firing if (i := cron.next_at_or_after(at)) is not None), default=None)

    return next_at_or_after


def _rate_schedule(count: int, unit: str) -> Callable[[datetime], datetime | None]:
    period = count * _RATE_MINUTES[unit.rstrip("s")]

    # Simplification: AWS starts a rate schedule when the rule is created; here a
    # rate rule fires at instants aligned to the Unix epoch by its period.
    def next_at_or_after(at: datetime) -> datetime:
        minutes = int((at - _EPOCH).total_seconds()) // 60
        return at + timedelta(minutes=-minutes % period)

    return next_at_or_after


class Schedule:
    """A ScheduleExpression, evaluated in UTC with minute granularity."""

    def __init__(self, expression: str, kind: str, next_at_or_after: Callable[[datetime], datetime | None]):
        self.expression = expression
        self.kind = kind  # "cron" | "rate"
        self._next = next_at_or_after  # a UTC minute -> the first firing at or after it, None if none
        # (a minute, the first firing at or after it): no firing in between, so while time moves
        # forward matches() needs cronsim once per firing, not once per minute.
        self._window: tuple[datetime, datetime | None] | None = None

    def matches(self, at: datetime) -> bool:
        """True if the schedule fires in the UTC minute that contains ``at``."""
        minute = _utc_minute(at)
        window = self._window
        if window is None or minute < window[0] or (window[1] is not None and minute > window[1]):
            window = self._window = (minute, self._next(minute))
        return window[1] == minute


@functools.lru_cache(maxsize=1024)
def parse_schedule(expr: str) -> Schedule:
    """Parse an EventBridge ScheduleExpression; cron is evaluated in UTC."""
    expr = expr.strip()
    rate = _RATE_RE.match(expr)
    if rate:
        count, unit = int(rate.group(1)), rate.group(2)
        # AWS insists on "1 minute" but "5 minutes".
        if count < 1 or (count == 1) != (not unit.endswith("s")):
            raise ScheduleError(f"invalid rate expression {expr!r}")
        return Schedule(expr, "rate", _rate_schedule(count, unit))
    if expr.startswith("cron(") and expr.endswith(")"):
        try:
            return Schedule(expr, "cron", _cron_schedule(expr[5:-1]))
        except ScheduleError as exc:
            raise ScheduleError(f"invalid cron expression {expr!r}: {exc}") from exc
    raise ScheduleError(f"unsupported schedule expression {expr!r}")


def is_due(expr: str, at: datetime) -> bool:
    return parse_schedule(expr).matches(at)


# --- target input ------------------------------------------------------------------

_PATH_TOKEN = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]")


def json_path(document: Any, path: str) -> Any:
    """The JSONPath subset EventBridge users write: `$`, `$.a.b`, `$.a[0]`, `$['a-b']`."""
    if not path.startswith("$"):
        raise ValueError(f"JSONPath must start with '$': {path!r}")
    position, value = 1, document
    while position < len(path):
        token = _PATH_TOKEN.match(path, position)
        if token is None:
            raise ValueError(f"unsupported JSONPath {path!r}")
        key, index, quoted = token.groups()
        if index is not None:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            value = value.get(key if key is not None else quoted) if isinstance(value, dict) else None
        position = token.end()
    return value


def _render_template(template: str, values: dict[str, Any]) -> Any:
    """InputTemplate: a value inside a JSON string is inserted as text, elsewhere as JSON."""
    out: list[str] = []
    in_string = escaped = False
    position = 0
    placeholder = re.compile(r"<([A-Za-z0-9_.\-]+)>")
    while position < len(template):
        char = template[position]
        match = placeholder.match(template, position) if char == "<" else None
        if match and match.group(1) in values:
            value = values[match.group(1)]
            if in_string:
                text = value if isinstance(value, str) else json.dumps(value) if value is not None else ""
                out.append(json.dumps(text)[1:-1])
            else:
                out.append(json.dumps(value))
            position = match.end()
            continue
        if in_string and char == "\\" and not escaped:
            escaped = True
        else:
            if char == '"' and not escaped:
                in_string = not in_string
            escaped = False
        out.append(char)
        position += 1
    rendered = "".join(out)
    try:
        return json.loads(rendered)
    except json.JSONDecodeError:
        # A plain-text template ("<a> is <b>") is delivered as a JSON string with the
        # values inserted raw.
        def raw(match: re.Match[str]) -> str:
            if match.group(1) not in values:
                return match.group(0)
            value = values[match.group(1)]
            return value if isinstance(value, str) else json.dumps(value)

        return placeholder.sub(raw, template)


def target_input(target: dict[str, Any], event: dict[str, Any], rule: dict[str, Any]) -> Any:
    """What the target receives: Input, InputPath, InputTransformer or the event itself."""
    if target.get("Input") is not None:
        return json.loads(target["Input"])
    if target.get("InputPath"):
        return json_path(event, target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer:
        values: dict[str, Any] = {
            name: json_path(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()
        }
        # Predefined variables EventBridge offers in every template.
        values.setdefault("aws.events.rule-arn", rule["Arn"])
        values.setdefault("aws.events.rule-name", rule["Name"])
        values.setdefault("aws.events.event.ingestion-time", event["time"])
        values.setdefault("aws.events.event", event)
        values.setdefault("aws.events.event.json", event)
        return _render_template(transformer["InputTemplate"], values)
    return event


# --- the clock ---------------------------------------------------------------------


@dataclass(frozen=True)
class Firing:
    rule_name: str
    target_id: str
    target_arn: str
    event_time: datetime
    payload: Any
    response_payload: Any
    function_error: str | None
    event_id: str = ""


def scheduled_event(rule: dict[str, Any], at: datetime) -> dict[str, Any]:
    """The event EventBridge sends for a scheduled rule at instant ``at``."""
    at = _utc_minute(at)
    time_text = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    _, _, _, region, account, _ = rule["Arn"].split(":", 5)
    return {
        "version": "0",
        # Same rule + instant -> same id, so receivers can recognise a redelivery.
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{rule['Arn']}@{time_text}")),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": time_text,
        "region": region,
        "resources": [rule["Arn"]],
        "detail": {},
    }


def _is_lambda_arn(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function"


def _minutes(start: datetime, end: datetime) -> Iterator[datetime]:
    start_utc, end_utc = _as_utc(start), _as_utc(end)
    current = _utc_minute(start_utc)
    if current < start_utc:
        current += timedelta(minutes=1)  # start inside a minute: its boundary has passed
    while current < end_utc:
        yield current
        current += timedelta(minutes=1)


class EventBridgeClock:
    def __init__(
        self,
        events_client: Any,
        lambda_client: Any,
        *,
        event_bus: str = "default",
        name_prefix: str | None = None,
    ):
        self.events = events_client
        self.lambda_ = lambda_client
        self.event_bus = event_bus
        # Several deployments (stages) may share one emulator; a prefix keeps a clock to its own rules.
        self.name_prefix = name_prefix

    def _paged(self, call: Callable[..., dict[str, Any]], key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            page = call(**kwargs, **({"NextToken": token} if token else {}))
            yield from page.get(key, [])
            token = page.get("NextToken")
            if not token:
                return

    def due_rules(self, at: datetime) -> list[dict[str, Any]]:
        """ENABLED scheduled rules on the bus that fire in the minute of ``at``."""
        due = []
        filters = {"NamePrefix": self.name_prefix} if self.name_prefix else {}
        for rule in self._paged(self.events.list_rules, "Rules", EventBusName=self.event_bus, **filters):
            expression = rule.get("ScheduleExpression")
            if rule.get("State") != "ENABLED" or not expression:
                continue
            try:
                schedule = parse_schedule(expression)
            except ScheduleError as exc:
                raise ScheduleError(f"rule {rule['Name']}: {exc}") from exc
            if schedule.matches(at):
                due.append(rule)
        return due

    def fire(self, at: datetime) -> list[Firing]:
        """Invoke every Lambda target of every due rule, synchronously, in rule order.

        Real EventBridge invokes Lambda asynchronously; a synchronous call keeps tests
        deterministic and surfaces the response and error.
        """
        at = _utc_minute(at)
        firings: list[Firing] = []
        for rule in self.due_rules(at):
            event = scheduled_event(rule, at)
            targets = self._paged(
                self.events.list_targets_by_rule,
                "Targets",
                Rule=rule["Name"],
                EventBusName=self.event_bus,
            )
            for target in targets:
                if not _is_lambda_arn(target["Arn"]):
                    LOG.warning(
                        "rule %s: skipping non-Lambda target %s",
                        rule["Name"],
                        target["Arn"],
                    )
                    continue
                payload = target_input(target, event, rule)
                response = self.lambda_.invoke(
                    FunctionName=target["Arn"],
                    InvocationType="RequestResponse",
                    Payload=json.dumps(payload).encode("utf-8"),
                )
                raw = response["Payload"].read().decode("utf-8")
                try:
                    response_payload: Any = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    response_payload = raw
                firings.append(
                    Firing(
                        rule_name=rule["Name"],
                        target_id=target["Id"],
                        target_arn=target["Arn"],
                        event_time=at,
                        payload=payload,
                        response_payload=response_payload,
                        function_error=response.get("FunctionError"),
                        event_id=event["id"],
                    )
                )
        return firings

    def run(self, start: datetime, end: datetime) -> list[Firing]:
        """Fire every minute boundary in [start, end), e.g. to catch up after downtime."""
        firings: list[Firing] = []
        for minute in _minutes(start, end):
            firings.extend(self.fire(minute))
        return firings
