"""The EventBridge clock: schedule parsing and firing stored rules at Lambda targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from localcloud import EventBridgeClock, LocalCloud, ScheduleError, parse_schedule
from localcloud.clock import is_due, json_path, target_input
from tests.localcloud.handlers.support import (
    create_function,
    shared_cloud,
    unique,
)

UTC = UTC


@pytest.fixture(scope="module")
def cloud() -> LocalCloud:
    return shared_cloud()


@pytest.mark.parametrize(
    ("expr", "at", "due"),
    [
        # weekdays at 07:00 UTC
        ("cron(0 7 ? * MON-FRI *)", datetime(2025, 1, 6, 7, 0), True),  # Monday
        ("cron(0 7 ? * MON-FRI *)", datetime(2025, 1, 10, 7, 0), True),  # Friday
        ("cron(0 7 ? * MON-FRI *)", datetime(2025, 1, 11, 7, 0), False),  # Saturday
        ("cron(0 7 ? * MON-FRI *)", datetime(2025, 1, 6, 7, 1), False),
        ("cron(0 7 ? * 2-6 *)", datetime(2025, 1, 10, 7, 0), True),  # numeric MON-FRI
        # every day at 06:00
        ("cron(0 6 * * ? *)", datetime(2025, 3, 1, 6, 0), True),
        (
            "cron(0 6 * * ? *)",
            datetime(2025, 3, 1, 6, 0, 59),
            True,
        ),  # minute granularity
        ("cron(0 6 * * ? *)", datetime(2025, 3, 1, 7, 0), False),
        # every 15 minutes
        ("cron(0/15 * * * ? *)", datetime(2025, 3, 1, 13, 45), True),
        ("cron(0/15 * * * ? *)", datetime(2025, 3, 1, 13, 50), False),
        ("cron(*/20 9-17 * * ? *)", datetime(2025, 3, 1, 17, 40), True),
        # AWS day-of-week 1 is Sunday, so 2 is Monday
        ("cron(0 9 ? * 2 *)", datetime(2025, 1, 6, 9, 0), True),
        ("cron(0 9 ? * 2 *)", datetime(2025, 1, 5, 9, 0), False),  # Sunday
        ("cron(0 9 ? * 1 *)", datetime(2025, 1, 5, 9, 0), True),
        ("cron(0 9 ? * SUN,SAT *)", datetime(2025, 1, 4, 9, 0), True),
        # last day of the month
        ("cron(0 12 L * ? *)", datetime(2024, 2, 29, 12, 0), True),  # leap year
        ("cron(0 12 L * ? *)", datetime(2025, 2, 28, 12, 0), True),
        ("cron(0 12 L * ? *)", datetime(2025, 1, 30, 12, 0), False),
        # W, LW, #, nL
        (
            "cron(0 8 15W * ? *)",
            datetime(2025, 3, 14, 8, 0),
            True,
        ),  # 15th is a Saturday -> Friday
        (
            "cron(0 8 1W * ? *)",
            datetime(2025, 3, 3, 8, 0),
            True,
        ),  # 1st is a Saturday -> Monday 3rd
        ("cron(0 8 LW * ? *)", datetime(2025, 5, 30, 8, 0), True),  # 31st is a Saturday
        ("cron(0 8 ? * 2#1 *)", datetime(2025, 4, 7, 8, 0), True),  # first Monday
        ("cron(0 8 ? * 2#1 *)", datetime(2025, 4, 14, 8, 0), False),
        ("cron(0 8 ? * 6L *)", datetime(2025, 4, 25, 8, 0), True),  # last Friday
        ("cron(0 8 ? * 6L *)", datetime(2025, 4, 18, 8, 0), False),
        # month names and the year field
        ("cron(0 0 1 JAN,JUL ? *)", datetime(2025, 7, 1, 0, 0), True),
        ("cron(0 0 1 * ? 2026)", datetime(2025, 1, 1, 0, 0), False),
        ("cron(0 0 1 * ? 2026)", datetime(2026, 1, 1, 0, 0), True),
        ("cron(0 0 1 * ? 2024-2025)", datetime(2026, 1, 1, 0, 0), False),
        ("cron(0 0 1 1 ? 2026/2)", datetime(2028, 1, 1, 0, 0), True),
        ("cron(0 0 1 1 ? 2026/2)", datetime(2027, 1, 1, 0, 0), False),
        # a one-value range with a step is that value (cronsim alone would read "4-4/2" as 4, 6, 8, ...)
        ("cron(0 4-4/2 * * ? *)", datetime(2025, 3, 1, 4, 0), True),
        ("cron(0 4-4/2 * * ? *)", datetime(2025, 3, 1, 6, 0), False),
        ("cron(0 8 ? * SAT/1 *)", datetime(2025, 1, 4, 8, 0), True),  # Saturday
        ("cron(0 8 ? * SAT/1 *)", datetime(2025, 1, 5, 8, 0), False),  # Sunday (cronsim's day 7)
        ("cron(0 8 ? * 2/2 *)", datetime(2025, 1, 8, 8, 0), True),  # MON, WED, FRI: Wednesday
        ("cron(0 8 ? * 2/2 *)", datetime(2025, 1, 5, 8, 0), False),  # not Sunday
        # nW in a list, and where n is past the month's end or its last day is a Sunday
        ("cron(0 8 1W,15W * ? *)", datetime(2025, 3, 3, 8, 0), True),
        ("cron(0 8 1W,15W * ? *)", datetime(2025, 3, 14, 8, 0), True),
        ("cron(0 8 1W,15W * ? *)", datetime(2025, 3, 17, 8, 0), False),
        ("cron(0 8 31W * ? *)", datetime(2025, 3, 31, 8, 0), True),
        ("cron(0 8 31W * ? *)", datetime(2025, 4, 30, 8, 0), False),  # April has no 31st
        ("cron(0 8 30W * ? *)", datetime(2025, 11, 28, 8, 0), True),  # the 30th is a Sunday, the last day
        # evaluated in UTC: no gap or repeat on Europe's DST change days
        ("cron(30 1 * * ? *)", datetime(2026, 3, 29, 1, 30), True),
        ("cron(30 1 * * ? *)", datetime(2026, 10, 25, 1, 30), True),
        ("cron(30 1 * * ? *)", datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Madrid")), True),
        # evaluated in UTC: 07:00+02:00 is 05:00 UTC
        (
            "cron(0 5 * * ? *)",
            datetime(2025, 6, 2, 7, 0, tzinfo=timezone(timedelta(hours=2))),
            True,
        ),
        # rate rules, aligned to the epoch by their period
        ("rate(1 minute)", datetime(2025, 3, 1, 13, 47), True),
        ("rate(5 minutes)", datetime(2025, 3, 1, 13, 45), True),
        ("rate(5 minutes)", datetime(2025, 3, 1, 13, 46), False),
        ("rate(1 hour)", datetime(2025, 3, 1, 13, 0), True),
        ("rate(2 hours)", datetime(2025, 3, 1, 13, 0), False),
        ("rate(1 day)", datetime(2025, 3, 1, 0, 0), True),
        ("rate(1 day)", datetime(2025, 3, 1, 0, 1), False),
    ],
)
def test_schedule_table(expr: str, at: datetime, due: bool) -> None:
    # GIVEN an expression and an instant / WHEN checked / THEN due as EventBridge would be
    assert is_due(expr, at) is due


@pytest.mark.parametrize(
    "expr",
    [
        "cron(0 6 * * * *)",  # neither day field is '?'
        "cron(0 6 ? * ? *)",  # both are
        "cron(0 6 * * ?)",  # five fields
        "cron(60 6 * * ? *)",
        "cron(0 6 ? * 8 *)",
        "cron(0 6 ? * FRI-MON *)",
        "cron(0 6 ? * 0 *)",
        "cron(0 6 ? * SAT-SUN *)",
        "cron(0 6 L/2 * ? *)",
        "cron(0 6 0W * ? *)",
        "cron(0 6 1 13 ? *)",
        "cron(0 6 1 * ? 1969)",
        "cron(0 6 1 * ? 2030-2026)",
        "cron(*/0 6 1 * ? *)",
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "rate(1 week)",
        "at(2025-01-01T00:00:00)",
    ],
)
def test_invalid_schedules_are_rejected(expr: str) -> None:
    # GIVEN an expression AWS would reject / WHEN parsed / THEN ScheduleError
    with pytest.raises(ScheduleError):
        parse_schedule(expr)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("cron(0 6 ? * 8 *)", "bad day-of-week value '8'"),
        ("cron(60 6 * * ? *)", "Bad minute in '60 6 \\* \\* \\*'"),
        ("cron(0 6 1 * ? 1969)", "bad year '1969'"),
        ("cron(0 6 * * * *)", "exactly one of day-of-month and day-of-week"),
    ],
)
def test_invalid_schedule_errors_name_the_field(expr: str, message: str) -> None:
    # GIVEN an invalid expression / WHEN parsed / THEN the error names the expression and what is wrong
    with pytest.raises(ScheduleError, match=message) as raised:
        parse_schedule(expr)
    assert expr in str(raised.value)


def test_a_day_no_month_has_is_accepted_and_never_fires() -> None:
    # GIVEN February 30th (cronsim refuses it; EventBridge accepts it)
    schedule = parse_schedule("cron(0 8 30 2 ? *)")
    # WHEN checked every day of four years / THEN it never fires
    start = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
    assert not any(schedule.matches(start + timedelta(days=n)) for n in range(4 * 366))


@pytest.mark.parametrize("expr", ["cron(0/15 9-10 ? * MON,FRI *)", "cron(0 8 15W * ? *)", "rate(7 minutes)"])
def test_a_schedule_answers_the_same_whichever_way_time_moves(expr: str) -> None:
    # GIVEN one parsed schedule and every minute of a week
    schedule = parse_schedule(expr)
    minutes = [datetime(2025, 3, 10, tzinfo=UTC) + timedelta(minutes=n) for n in range(7 * 1440)]
    # WHEN asked forwards, then backwards
    forwards = [m for m in minutes if schedule.matches(m)]
    backwards = [m for m in reversed(minutes) if schedule.matches(m)]
    # THEN both give the same firings
    assert forwards == backwards[::-1] != []


def test_json_path_and_input_transformer() -> None:
    # GIVEN a scheduled event and a transformer mixing JSON and text placeholders
    event = {
        "time": "2025-01-06T07:00:00Z",
        "detail": {"items": [{"id": "a"}]},
        "detail-type": "Scheduled Event",
    }
    rule = {"Name": "r", "Arn": "arn:aws:events:eu-west-1:123456789012:rule/r"}
    target = {
        "InputTransformer": {
            "InputPathsMap": {
                "t": "$.time",
                "first": "$.detail.items[0]",
                "kind": "$['detail-type']",
            },
            "InputTemplate": '{"at": <t>, "item": <first>, "label": "<kind> for <aws.events.rule-name>"}',
        }
    }
    # WHEN the target input is computed / THEN values are placed as JSON or as text
    assert json_path(event, "$.detail.items[0].id") == "a"
    assert json_path(event, "$.missing.key") is None
    assert target_input(target, event, rule) == {
        "at": "2025-01-06T07:00:00Z",
        "item": {"id": "a"},
        "label": "Scheduled Event for r",
    }
    assert target_input({"InputPath": "$.detail"}, event, rule) == event["detail"]
    assert target_input({"Input": '{"job": "bake"}'}, event, rule) == {"job": "bake"}


def _rule_with_targets(cloud: LocalCloud, schedule: str, targets: list[dict]) -> str:
    events = cloud.client("events")
    name = unique("rule")
    events.put_rule(Name=name, ScheduleExpression=schedule, State="ENABLED")
    events.put_targets(Rule=name, Targets=targets)
    return name


def _clock(cloud: LocalCloud) -> EventBridgeClock:
    return EventBridgeClock(cloud.client("events"), cloud.client("lambda"))


def _mine(firings: list, *rules: str) -> list:
    # Other tests share the emulator: look only at this test's rules.
    return [f for f in firings if f.rule_name in rules]


def test_fire_invokes_lambda_targets_with_their_input(cloud: LocalCloud) -> None:
    # GIVEN a weekday-07:00 rule with three Lambda targets (plain, Input, InputTransformer)
    # and an SQS target the clock does not deliver to
    fn = create_function(cloud, "tests.localcloud.handlers.basic.ok", prefix="clock")
    arn = fn["FunctionArn"]
    transformer = {
        "InputPathsMap": {"t": "$.time"},
        "InputTemplate": '{"scheduled_for": <t>, "mode": "catch-up"}',
    }
    rule = _rule_with_targets(
        cloud,
        "cron(0 7 ? * MON-FRI *)",
        [
            {"Id": "plain", "Arn": arn},
            {"Id": "constant", "Arn": arn, "Input": '{"job": "bake"}'},
            {"Id": "transformed", "Arn": arn, "InputTransformer": transformer},
            {"Id": "queue", "Arn": "arn:aws:sqs:eu-west-1:123456789012:not-lambda"},
        ],
    )
    monday_7 = datetime(2025, 1, 6, 7, 0, tzinfo=UTC)
    # WHEN the clock fires at that instant
    firings = {f.target_id: f for f in _mine(_clock(cloud).fire(monday_7), rule)}
    # THEN every Lambda target ran once with its own input, and the queue was skipped
    assert set(firings) == {"plain", "constant", "transformed"}
    event = firings["plain"].payload
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2025-01-06T07:00:00Z"
    assert event["account"] == "123456789012"
    assert event["region"] == cloud.region
    assert event["resources"] == [f"arn:aws:events:{cloud.region}:123456789012:rule/{rule}"]
    assert event["detail"] == {}
    assert firings["plain"].response_payload["echo"] == event
    assert firings["constant"].response_payload["echo"] == {"job": "bake"}
    assert firings["transformed"].response_payload["echo"] == {
        "scheduled_for": "2025-01-06T07:00:00Z",
        "mode": "catch-up",
    }
    assert all(f.function_error is None and f.event_time == monday_7 for f in firings.values())


def test_same_instant_gives_same_event_id(cloud: LocalCloud) -> None:
    # GIVEN an hourly rule
    fn = create_function(cloud, "tests.localcloud.handlers.basic.ok", prefix="clock")
    rule = _rule_with_targets(cloud, "rate(1 hour)", [{"Id": "t", "Arn": fn["FunctionArn"]}])
    clock = _clock(cloud)
    at = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
    # WHEN the same instant is fired twice, and the next hour once
    first, second = _mine(clock.fire(at), rule), _mine(clock.fire(at), rule)
    later = _mine(clock.fire(at + timedelta(hours=1)), rule)
    # THEN the redelivery carries the same id (the clock does not dedupe) and the next hour a new one
    assert len(first) == len(second) == 1
    assert first[0].event_id == second[0].event_id == first[0].payload["id"]
    assert later[0].event_id != first[0].event_id


def test_not_due_disabled_and_catch_up(cloud: LocalCloud) -> None:
    # GIVEN a 15-minute rule, a disabled rule and a rule whose handler fails
    ok = create_function(cloud, "tests.localcloud.handlers.basic.ok", prefix="clock")
    boom = create_function(cloud, "tests.localcloud.handlers.basic.boom", prefix="clock")
    every_15 = _rule_with_targets(cloud, "cron(0/15 * * * ? *)", [{"Id": "t", "Arn": ok["FunctionArn"]}])
    disabled = _rule_with_targets(cloud, "rate(1 minute)", [{"Id": "t", "Arn": ok["FunctionArn"]}])
    cloud.client("events").disable_rule(Name=disabled)
    failing = _rule_with_targets(cloud, "cron(30 * * * ? *)", [{"Id": "t", "Arn": boom["FunctionArn"]}])
    clock = _clock(cloud)
    # WHEN fired at a non-due instant
    not_due = _mine(clock.fire(datetime(2025, 1, 6, 9, 7, tzinfo=UTC)), every_15, disabled, failing)
    # AND run over an hour of catch-up starting mid-minute
    caught_up = _mine(
        clock.run(
            datetime(2025, 1, 6, 9, 0, 30, tzinfo=UTC),
            datetime(2025, 1, 6, 10, 0, tzinfo=UTC),
        ),
        every_15,
        disabled,
        failing,
    )
    # THEN nothing fires off-schedule, 09:00 is skipped (already past), and failures are reported
    assert not_due == []
    # (order within one minute follows list_rules, so compare sorted)
    assert sorted((f.event_time.strftime("%H:%M"), f.rule_name == failing) for f in caught_up) == [
        ("09:15", False),
        ("09:30", False),
        ("09:30", True),
        ("09:45", False),
    ]
    [failed] = [f for f in caught_up if f.rule_name == failing]
    assert failed.function_error == "Unhandled"
    assert failed.response_payload["errorType"] == "TenantNotFound"
    assert failed.payload["time"] == "2025-01-06T09:30:00Z"
