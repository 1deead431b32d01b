"""EventBridge clock: fires scheduled rules stored in moto (which never fires them).

Rules and targets are read through the public EventBridge API, so anything that
created them (infra code, tests) works unchanged. Time is passed in explicitly, which
makes catch-up and "fired twice" scenarios reproducible.
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

LOG = logging.getLogger(__name__)


class ScheduleError(ValueError):
    """The ScheduleExpression is not valid for EventBridge."""


# --- schedule expressions ----------------------------------------------------------

_MONTH_NAMES = {
    n: i + 1 for i, n in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"])
}
# AWS numbers days of week 1-7 starting on Sunday.
_DAY_NAMES = {n: i + 1 for i, n in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
_RATE_RE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_RATE_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _as_utc(at: datetime) -> datetime:
    """Naive datetimes are taken as UTC (EventBridge cron is evaluated in UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _utc_minute(at: datetime) -> datetime:
    """Schedules have minute granularity."""
    return _as_utc(at).replace(second=0, microsecond=0)


def _aws_dow(day: datetime) -> int:
    return (day.weekday() + 1) % 7 + 1  # Monday=0 in Python -> 2 in AWS


def _value(token: str, lo: int, hi: int, names: dict[str, int], field: str) -> int:
    value = names.get(token) if token in names else int(token) if token.isdigit() else None
    if value is None or not lo <= value <= hi:
        raise ScheduleError(f"bad {field} value {token!r} (allowed {lo}-{hi})")
    return value


def _values(text: str, lo: int, hi: int, field: str, names: dict[str, int] | None = None) -> set[int]:
    """Plain cron list syntax: `*`, `a`, `a-b`, with `/step` on any of them, comma-separated."""
    names = names or {}
    out: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 0
        if slash and step < 1:
            raise ScheduleError(f"bad {field} step in {part!r}")
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = (
                _value(first, lo, hi, names, field),
                _value(last, lo, hi, names, field),
            )
            if end < start:
                raise ScheduleError(f"bad {field} range {base!r} (wrap-around is not supported)")
        else:
            start = _value(base, lo, hi, names, field)
            end = hi if slash else start  # "0/15" means from 0 every 15
        out.update(range(start, end + 1, step or 1))
    return out


def _dom_matcher(text: str) -> Callable[[datetime], bool]:
    plain: list[str] = []
    specials: list[Callable[[datetime], bool]] = []
    for part in text.split(","):
        if part == "L":
            specials.append(lambda d: d.day == calendar.monthrange(d.year, d.month)[1])
        elif part == "LW":
            specials.append(lambda d: d.day == _last_weekday(d.year, d.month))
        elif part.endswith("W") and part[:-1].isdigit():
            target = _value(part[:-1], 1, 31, {}, "day-of-month")
            specials.append(lambda d, t=target: d.day == _nearest_weekday(d.year, d.month, t))
        else:
            plain.append(part)
    days = _values(",".join(plain), 1, 31, "day-of-month") if plain else set()
    return lambda d: d.day in days or any(match(d) for match in specials)


def _last_weekday(year: int, month: int) -> int:
    day = calendar.monthrange(year, month)[1]
    while calendar.weekday(year, month, day) >= 5:
        day -= 1
    return day


def _nearest_weekday(year: int, month: int, target: int) -> int | None:
    """`nW`: the weekday nearest to day n, without leaving the month."""
    last = calendar.monthrange(year, month)[1]
    if target > last:
        return None
    weekday = calendar.weekday(year, month, target)
    if weekday == 5:  # Saturday -> Friday, or Monday when the 1st is a Saturday
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday -> Monday, or Friday when Sunday is the month's last day
        return target + 1 if target < last else target - 2
    return target


def _dow_matcher(text: str) -> Callable[[datetime], bool]:
    plain: list[str] = []
    specials: list[Callable[[datetime], bool]] = []
    for part in text.split(","):
        if part == "L":  # last day of the week: Saturday
            specials.append(lambda d: _aws_dow(d) == 7)
        elif part.endswith("L"):  # "5L": last Thursday of the month
            dow = _value(part[:-1], 1, 7, _DAY_NAMES, "day-of-week")
            specials.append(lambda d, w=dow: _aws_dow(d) == w and d.day + 7 > calendar.monthrange(d.year, d.month)[1])
        elif "#" in part:  # "2#1": first Monday of the month
            day_text, _, nth_text = part.partition("#")
            dow = _value(day_text, 1, 7, _DAY_NAMES, "day-of-week")
            nth = _value(nth_text, 1, 5, {}, "day-of-week #")
            specials.append(lambda d, w=dow, n=nth: _aws_dow(d) == w and (d.day - 1) // 7 + 1 == n)
        else:
            plain.append(part)
    days = _values(",".join(plain), 1, 7, "day-of-week", _DAY_NAMES) if plain else set()
    return lambda d: _aws_dow(d) in days or any(match(d) for match in specials)


def _cron_matcher(body: str) -> Callable[[datetime], bool]:
    fields = body.upper().split()
    if len(fields) != 6:
        raise ScheduleError("cron() needs 6 fields: minutes hours day-of-month month day-of-week year")
    minute_f, hour_f, dom_f, month_f, dow_f, year_f = fields
    # AWS requires exactly one of day-of-month / day-of-week to be "?".
    if (dom_f == "?") == (dow_f == "?"):
        raise ScheduleError("exactly one of day-of-month and day-of-week must be '?'")
    for name, value in (
        ("minutes", minute_f),
        ("hours", hour_f),
        ("month", month_f),
        ("year", year_f),
    ):
        if "?" in value:
            raise ScheduleError(f"'?' is not allowed in the {name} field")
    minutes = _values(minute_f, 0, 59, "minutes")
    hours = _values(hour_f, 0, 23, "hours")
    months = _values(month_f, 1, 12, "month", _MONTH_NAMES)
    years = _values(year_f, 1970, 2199, "year")
    day_matches = _dom_matcher(dom_f) if dow_f == "?" else _dow_matcher(dow_f)

    def matches(at: datetime) -> bool:
        return at.minute in minutes and at.hour in hours and at.month in months and at.year in years and day_matches(at)

    return matches


@dataclass(frozen=True)
class Schedule:
    expression: str
    kind: str  # "cron" | "rate"
    _matches: Callable[[datetime], bool]

    def matches(self, at: datetime) -> bool:
        """True if the schedule fires in the UTC minute that contains ``at``."""
        return self._matches(_utc_minute(at))


def parse_schedule(expr: str) -> Schedule:
    """Parse an EventBridge ScheduleExpression; cron is evaluated in UTC."""
    expr = expr.strip()
    rate = _RATE_RE.match(expr)
    if rate:
        count, unit = int(rate.group(1)), rate.group(2)
        # AWS insists on "1 minute" but "5 minutes".
        if count < 1 or (count == 1) != (not unit.endswith("s")):
            raise ScheduleError(f"invalid rate expression {expr!r}")
        period = count * _RATE_MINUTES[unit.rstrip("s")]
        # Simplification: AWS starts a rate schedule when the rule is created; here a
        # rate rule fires at instants aligned to the Unix epoch by its period.
        return Schedule(
            expr,
            "rate",
            lambda at: int((at - _EPOCH).total_seconds()) // 60 % period == 0,
        )
    if expr.startswith("cron(") and expr.endswith(")"):
        return Schedule(expr, "cron", _cron_matcher(expr[5:-1]))
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

    parse_schedule = staticmethod(parse_schedule)
    is_due = staticmethod(is_due)

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
