"""The tools operators point at this service, as the tests use them: promtool (Prometheus), the AsyncAPI
parser, and a simple reading of the PromQL in ops/ (which series and labels each expression names).

promtool and the parser are installed by `localstack/ensure-services.sh` (Debian's `prometheus` package;
`npm ci` in tests/tools/asyncapi). A test that finds one missing runs that script once, and skips saying
why only when the tool still cannot be had on this machine.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

OPS = ROOT / "ops"
RULES = OPS / "prometheus" / "rules.yml"
RULE_TESTS = OPS / "prometheus" / "rules.test.yml"
SCRAPE_CONFIG = OPS / "prometheus" / "prometheus.example.yml"
DASHBOARD = OPS / "grafana" / "dashboards" / "bakery-orchestrator.json"
ASYNCAPI_TOOL = ROOT / "tests" / "tools" / "asyncapi"
ENSURE = ROOT / "localstack" / "ensure-services.sh"


# --- installing the tools -----------------------------------------------------------------------------------
@functools.cache
def _ensure_services() -> str:
    """Run the project's setup once per session; its output (for the skip message)."""
    try:
        done = subprocess.run(["bash", str(ENSURE)], capture_output=True, text=True, timeout=900, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return (done.stdout + done.stderr).strip()[-600:]


def require_promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        said = _ensure_services()
        found = shutil.which("promtool")
        if found is None:
            pytest.skip(f"promtool is not installed and localstack/ensure-services.sh could not install it: {said}")
    return found


def require_asyncapi_parser() -> list[str]:
    """The command that parses an AsyncAPI document: node with the pinned @asyncapi/parser."""
    installed = (ASYNCAPI_TOOL / "node_modules" / "@asyncapi" / "parser").is_dir()
    if not (installed and shutil.which("node")):
        said = _ensure_services()
        installed = (ASYNCAPI_TOOL / "node_modules" / "@asyncapi" / "parser").is_dir()
        if not (installed and shutil.which("node")):
            pytest.skip(
                "the AsyncAPI parser (node + npm ci in tests/tools/asyncapi) is not installed and "
                f"localstack/ensure-services.sh could not install it: {said}"
            )
    return [shutil.which("node") or "node", str(ASYNCAPI_TOOL / "validate.mjs")]


def promtool(*args: str, stdin: str | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_promtool(), *args], input=stdin, capture_output=True, text=True, timeout=120, cwd=cwd, check=False
    )


# --- the expressions in ops/ --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expression:
    where: str  # "rules.yml: OrchestratorWorkflowFailed", "dashboard: panel 'Outbox backlog' A", ...
    promql: str


def rule_expressions() -> list[Expression]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [
        Expression(f"rules.yml: {rule.get('alert') or rule.get('record')}", rule["expr"])
        for group in groups
        for rule in group["rules"]
    ]


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def dashboard_expressions() -> list[Expression]:
    board = dashboard()
    found = [
        Expression(f"dashboard: panel {panel['title']!r} {target.get('refId', '')}", target["expr"])
        for panel in _panels(board["panels"])
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            text = query.get("query") if isinstance(query, dict) else query
            found.append(Expression(f"dashboard: variable ${variable['name']}", text))
    return found


# Grafana's variables, replaced by what they stand for so Prometheus' own parser can read the expression.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1d", "$workflow": ".*"}


def as_prometheus(promql: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        promql = promql.replace(variable, value)
    return promql


# --- a simple reading of PromQL: which series and labels an expression names ----------------------------------
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless"}
KEYWORDS |= {"inf", "nan", "atan2"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_IDENTIFIER = re.compile(r"(?<![A-Za-z0-9_:.$])([A-Za-z_:][A-Za-z0-9_:]*)(?![A-Za-z0-9_:])(\s*\()?")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$")


@dataclass
class Reading:
    series: set[str] = field(default_factory=set)  # metric names (sample names, e.g. ..._bucket)
    labels: dict[str, set[str]] = field(default_factory=dict)  # metric -> labels its matchers name
    grouping: set[str] = field(default_factory=set)  # labels in by/without/on/ignoring/group_* clauses


def read_promql(promql: str) -> Reading:
    """The metric names, matcher labels and grouping labels of an expression (or of a Grafana
    `label_values(metric, label)` query). Good enough for the expressions in ops/: no nested braces."""
    reading = Reading()
    only = _LABEL_VALUES.match(promql)
    if only:
        reading.series.add(only.group(1))
        reading.labels.setdefault(only.group(1), set()).add(only.group(2))
        return reading
    for name, matchers in _SELECTOR.findall(_STRING.sub('""', promql)):
        labels = set(_MATCHER.findall(matchers))
        if name:
            reading.labels.setdefault(name, set()).update(labels)
        else:  # {__name__="..."} and friends: the name is a matcher
            reading.grouping.update(labels - {"__name__"})
    bare = _STRING.sub('""', promql)
    for _, labels in _GROUPING.findall(bare):
        reading.grouping.update(label.strip() for label in labels.split(",") if label.strip())
    bare = _GROUPING.sub(" ", bare)
    bare = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", bare)
    for name, call in _IDENTIFIER.findall(bare):
        if call or name.lower() in KEYWORDS:
            continue
        reading.series.add(name)
    return reading


# --- what a scrape exposes -----------------------------------------------------------------------------------
def exposed(text: str) -> dict[str, set[str]]:
    """Sample name -> the label names it carries, from a Prometheus text exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, set()).update(sample.labels)
    return found


def unknown_names(expressions: list[Expression], series: dict[str, set[str]]) -> list[str]:
    """What each expression names that the scrape does not expose: a series, a label of a series, or a
    grouping label carried by none of the series it names."""
    problems = []
    for expression in expressions:
        reading = read_promql(expression.promql)
        if not reading.series:
            problems.append(f"{expression.where}: names no series: {expression.promql}")
        for name in sorted(reading.series - set(series)):
            problems.append(f"{expression.where}: series {name} is not exposed")
        carried = set().union(*(series.get(name, set()) for name in reading.series)) if reading.series else set()
        for name, labels in reading.labels.items():
            for label in sorted(labels - series.get(name, labels)):
                problems.append(f"{expression.where}: {name} has no label {label}")
        for label in sorted(reading.grouping - carried):
            problems.append(f"{expression.where}: no series it names carries the label {label}")
    return problems


# --- the series the alert rules need, read from recorded rows -------------------------------------------------
def check_alert_series_from_records() -> None:
    """GIVEN executions and an outbox event recorded as FinishRun and the outbox write them (in a transaction
    that is rolled back after), WHEN the read models behind the alert series run, THEN they give the last
    success per scope, the slow runs, the cost and the outbox backlog. Runs on whichever database is
    configured (SQLite in functional tests, Postgres in integration tests)."""
    import uuid
    from datetime import UTC, date, datetime, timedelta

    from sqlalchemy.orm import Session

    from chalicelib.db import readmodels
    from chalicelib.db.engine import get_engine
    from chalicelib.db.models import Execution, OutboxEvent

    workflow = f"alert_probe_{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    madrid, canary = "Europe/Madrid", "Atlantic/Canary"

    def run(scope: str, status: str, finished_hours_ago: float, summary: dict[str, Any] | None) -> Execution:
        finished = now - timedelta(hours=finished_hours_ago)
        return Execution(
            workflow_name=workflow,
            execution_name=f"{workflow}-{uuid.uuid4().hex[:12]}",
            scope=scope,
            run_date=date(2030, 1, 1),
            status=status,
            started_at=finished - timedelta(minutes=20),
            completed_at=finished,
            duration_seconds=1200.0,
            result_summary=summary,
        )

    session = Session(get_engine())
    try:
        session.add_all(
            [
                run(madrid, "completed", 30, {"performance": {"slow": True}, "cost": {"eur_total": 0.25}}),
                run(madrid, "completed_with_failures", 5, {"performance": {"slow": False}, "cost": {"eur_total": 0.5}}),
                run(madrid, "failed", 1, {"performance": None}),
                run(canary, "failed", 2, None),
                OutboxEvent(
                    event_type="orchestrator_workflow_completed",
                    routing_key="orchestrator.workflow_completed",
                    aggregate_id=str(uuid.uuid4()),
                    payload={},
                    created_at=now - timedelta(minutes=11),
                ),
            ]
        )
        session.flush()
        last = {(wf, scope): at for wf, scope, at in readmodels.last_successes(session) if wf == workflow}
        slow = {(wf, scope): n for wf, scope, n in readmodels.slow_runs(session) if wf == workflow}
        cost = dict(readmodels.run_costs(session))
        pending, age = readmodels.outbox_backlog(session, now)
    finally:
        session.rollback()
        session.close()
    # THEN Madrid's last success is the run completed with failures 5 h ago (the failed run after it is
    # not one), and the Canaries, with only a failure, have none
    assert last == {(workflow, madrid): now - timedelta(hours=5)}
    # AND one slow run in Madrid, none in the Canaries; the cost sums the estimates
    assert slow == {(workflow, madrid): 1, (workflow, canary): 0}
    assert abs(cost[workflow] - 0.75) < 1e-9
    # AND the backlog counts the waiting event and is at least as old as it
    assert pending >= 1 and age >= 11 * 60
