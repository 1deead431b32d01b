"""What the console draws, computed from plain data (no I/O): the states of an ASL definition, each state's
status read from a Step Functions execution history, and the Map's inner states coloured from the per-tenant
step rows.

Why the Map's inner states come from the step rows and not from child histories: on AWS each tenant is an
EXPRESS child execution of the Distributed Map, and EXPRESS executions have no GetExecutionHistory (their
events go to CloudWatch Logs). The step rows hold the same facts (status, duration, error) for every tenant,
and one GROUP BY counts them for 10,000 tenants.

Statuses: not_started, running, succeeded, failed, caught (failed and a Catch took it on), retried (failed,
then succeeded on a retry), aborted (the execution was stopped while in it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STATUSES = ("not_started", "running", "succeeded", "failed", "caught", "retried", "aborted")
MAX_DATA_CHARS = 8192  # input/output/cause shown per state; longer values are cut and flagged
_ATTEMPT_EVENTS = ("LambdaFunctionScheduled", "TaskScheduled", "ActivityScheduled")
_FAILURE_SUFFIXES = ("Failed", "TimedOut", "Aborted")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)FunctionArn\}")
# Events a Map or Parallel state writes about itself (its own success, failure or map run), whatever
# event precedes them: they belong to the nearest Map or Parallel state entered on their chain.
_CONTAINER_EVENTS = {
    "ParallelState": "ParallelStateEntered",
    "MapState": "MapStateEntered",
    "MapRun": "MapStateEntered",
}


@dataclass(frozen=True)
class StateInfo:
    """One state of a definition, wherever it is nested."""

    name: str
    type: str
    parent: str | None  # the Map or Parallel state that holds it (None: top level)
    step: str | None  # the Lambda step its Task invokes, when it names one of ours
    catches: bool  # it has a Catch


def task_step(resource: Any, steps: Iterable[str]) -> str | None:
    """The step a Task's resource invokes: the function name (ARN or ${Placeholder}-free name) ends with
    `-<step>`, or is the step itself. None for anything else."""
    if not isinstance(resource, str):
        return None
    placeholder = _PLACEHOLDER.fullmatch(resource)
    if placeholder:  # the definition as written: ${GenerateForecastsFunctionArn}
        name = re.sub(r"(?<!^)(?=[A-Z])", "_", placeholder.group(1)).lower()
    else:
        name = resource.rsplit(":function:", 1)[-1].split(":")[0]
    for step in sorted(steps, key=len, reverse=True):
        if name == step or name.endswith(f"-{step}"):
            return step
    return None


def walk_states(definition: Mapping[str, Any], steps: Iterable[str]) -> list[StateInfo]:
    """Every state of the definition, depth first in document order (a Map's item processor and each
    Parallel branch after the state that holds them)."""
    known = tuple(steps)
    found: list[StateInfo] = []

    def visit(states: Mapping[str, Any], parent: str | None) -> None:
        for name, state in states.items():
            kind = str(state.get("Type", ""))
            step = task_step(state.get("Resource"), known) if kind == "Task" else None
            found.append(StateInfo(name, kind, parent, step, bool(state.get("Catch"))))
            if kind == "Parallel":
                for branch in state.get("Branches", []):
                    visit(branch.get("States", {}), name)
            elif kind == "Map":
                inner = state.get("ItemProcessor") or state.get("Iterator") or {}
                visit(inner.get("States", {}), name)

    visit(definition.get("States", {}), None)
    return found


_ENDINGS = {
    "ExecutionSucceeded": "SUCCEEDED",
    "ExecutionFailed": "FAILED",
    "ExecutionAborted": "ABORTED",
    "ExecutionTimedOut": "TIMED_OUT",
}


def execution_status(events: Sequence[Mapping[str, Any]]) -> str:
    """The execution's status as its history ends: SUCCEEDED, FAILED, ABORTED, TIMED_OUT or RUNNING."""
    return _ENDINGS.get(str(events[-1].get("type")), "RUNNING") if events else "RUNNING"


def _cut(value: Any) -> tuple[str | None, bool]:
    if value is None:
        return None, False
    text = value if isinstance(value, str) else str(value)
    return (text[:MAX_DATA_CHARS], True) if len(text) > MAX_DATA_CHARS else (text, False)


def _details(event: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            return value
    return {}


def _is_failure(event_type: str) -> bool:
    return event_type.endswith(_FAILURE_SUFFIXES)


@dataclass
class StateRun:
    """What the history says about one state."""

    name: str
    entries: int = 0
    exits: int = 0
    attempts: int = 0
    entered_at: datetime | None = None
    exited_at: datetime | None = None
    input: str | None = None
    output: str | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)
    last_failed: bool = False  # the last outcome seen in it was a failure
    caught: bool = False  # a later state was entered from one of its failures

    def view(self, execution_status: str, *, hide_data: bool = False) -> dict[str, Any]:
        status = self.status(execution_status)
        data_in, in_cut = _cut(self.input)
        data_out, out_cut = _cut(self.output)
        last = self.failures[-1] if self.failures else {}
        cause, cause_cut = _cut(last.get("cause"))
        duration = (
            round((self.exited_at - self.entered_at).total_seconds() * 1000, 1)
            if self.entered_at and self.exited_at
            else None
        )
        return {
            "status": status,
            "entered_at": self.entered_at,
            "exited_at": self.exited_at,
            "duration_ms": duration,
            "attempts": self.attempts,
            "retries": max(0, self.attempts - self.entries) if self.attempts else 0,
            "input": None if hide_data else data_in,
            "output": None if hide_data else data_out,
            "error": last.get("error"),
            "cause": None if hide_data else cause,
            "truncated": (not hide_data) and (in_cut or out_cut or cause_cut),
            "failures": len(self.failures),
        }

    def status(self, execution_status: str) -> str:
        if not self.entries:
            return "not_started"
        if self.last_failed:
            if self.caught or self.exits:
                return "caught"
            if execution_status == "RUNNING":
                return "running"  # failed an attempt; its Retry has not given up yet
            return "aborted" if execution_status == "ABORTED" and self.failures[-1]["aborted"] else "failed"
        if self.exits:
            return "retried" if self.failures else "succeeded"
        if execution_status == "RUNNING":
            return "running"
        return {"ABORTED": "aborted", "SUCCEEDED": "succeeded"}.get(execution_status, "failed")


def state_runs(events: Iterable[Mapping[str, Any]]) -> dict[str, StateRun]:
    """Per state name, what the history's events say (each event belongs to the state entered most
    recently on its chain of previous events, so Parallel branches and retries are attributed right)."""
    by_id: dict[int, Mapping[str, Any]] = {}
    owner: dict[int, str | None] = {}
    runs: dict[str, StateRun] = {}

    def owner_of(event_id: int) -> str | None:
        chain: list[int] = []
        found: str | None = None
        current: int | None = event_id
        while current:
            if current in owner:
                found = owner[current]
                break
            event = by_id.get(current)
            if event is None:
                break
            chain.append(current)
            entered = _details(event).get("name") if str(event.get("type", "")).endswith("StateEntered") else None
            if entered:
                found = entered
                break
            current = event.get("previousEventId")
        for ident in chain:
            owner[ident] = found
        return found

    def entered_of(event_id: int, entered_type: str) -> str | None:
        current: int | None = int(by_id[event_id].get("previousEventId") or 0)
        while current:
            event = by_id.get(current)
            if event is None:
                return None
            if event.get("type") == entered_type:
                return str(_details(event).get("name"))
            current = event.get("previousEventId")
        return None

    for event in events:
        ident = int(event.get("id") or 0)
        by_id[ident] = event
        kind = str(event.get("type", ""))
        details = _details(event)
        if kind.endswith("StateEntered"):
            name = str(details.get("name"))
            run = runs.setdefault(name, StateRun(name))
            run.entries += 1
            run.entered_at = run.entered_at or event.get("timestamp")
            run.input = details.get("input", run.input)
            previous = int(event.get("previousEventId") or 0)
            before = owner_of(previous) if previous else None
            if before and before != name and before in runs and _is_failure(str(by_id[previous].get("type", ""))):
                runs[before].caught = True
            owner[ident] = name
            continue
        holder: str | None
        if kind.endswith("StateExited") and details.get("name"):
            holder = str(details["name"])
            owner[ident] = holder
        else:
            container = next((v for k, v in _CONTAINER_EVENTS.items() if kind.startswith(k)), None)
            holder = entered_of(ident, container) if container else owner_of(ident)
        if holder is None:
            continue
        run = runs.setdefault(holder, StateRun(holder))
        if kind.endswith("StateExited"):
            run.exits += 1
            run.exited_at = event.get("timestamp")
            run.output = details.get("output", run.output)
        elif kind in _ATTEMPT_EVENTS:
            run.attempts += 1
        elif _is_failure(kind):
            run.failures.append(
                {"error": details.get("error"), "cause": details.get("cause"), "aborted": kind.endswith("Aborted")}
            )
            run.last_failed = True
        elif kind.endswith("Succeeded"):
            run.last_failed = False
    return runs


# --- the Map's inner states, from the step rows ---------------------------------------------------------------
def _aggregate(children: list[str], statuses: Mapping[str, str], catches: bool) -> str:
    seen = [statuses.get(c, "not_started") for c in children]
    if any(s in ("failed", "caught") for s in seen):
        return "caught" if catches else "failed"
    if seen and all(s in ("succeeded", "retried") for s in seen):
        return "succeeded"
    if any(s == "running" for s in seen):
        return "running"
    return "succeeded" if any(s == "succeeded" for s in seen) else "not_started"


def map_item_states(
    states: list[StateInfo],
    map_state: str,
    *,
    counts: Mapping[str, tuple[int, int]],
    tenants_total: int,
    tenants_failed: int,
    running: bool,
    failure_step: str,
) -> dict[str, dict[str, Any]]:
    """Status and counts of each state inside `map_state` over all tenants: a step's Task is failed when
    a tenant failed it, succeeded when every tenant completed it, running while tenants are still at it.
    `counts[step] = (completed, failed)`; `failure_step` is the step recording a caught tenant failure."""
    inner = _descendants(states, map_state)
    views: dict[str, dict[str, Any]] = {}
    for info in inner:
        if info.step is None:
            continue
        if info.step == failure_step:
            done, failed = tenants_failed, 0
            status = "succeeded" if done else ("running" if running and tenants_failed else "not_started")
        else:
            done, failed = counts.get(info.step, (0, 0))
            if failed:
                status = "failed"
            elif tenants_total and done >= tenants_total:
                status = "succeeded"
            elif running:
                status = "running" if done or tenants_total else "not_started"
            else:
                status = "succeeded" if done else "not_started"
        views[info.name] = {"status": status, "succeeded": done, "failed": failed, "total": tenants_total}
    _fill_containers(states, inner, views)
    return views


def tenant_item_states(
    states: list[StateInfo],
    map_state: str,
    *,
    steps: Mapping[str, Mapping[str, Any]],
    running: bool,
    failure_step: str,
) -> dict[str, dict[str, Any]]:
    """The same for one tenant, from its own step rows (`steps[step] = {status, duration_ms, error_type,
    error_message, result}`): the state's status, duration, error and output."""
    inner = _descendants(states, map_state)
    tenant_failed = any(row.get("status") == "failed" for row in steps.values())
    views: dict[str, dict[str, Any]] = {}
    for info in inner:
        if info.step is None:
            continue
        if info.step == failure_step:
            views[info.name] = {"status": "succeeded" if tenant_failed else "not_started"}
            continue
        row = steps.get(info.step)
        if row is None:
            status = "running" if running and not tenant_failed else "not_started"
            views[info.name] = {"status": status}
            continue
        output, cut = _cut(row.get("result"))
        views[info.name] = {
            "status": {"completed": "succeeded", "failed": "failed"}.get(str(row.get("status")), "not_started"),
            "duration_ms": row.get("duration_ms"),
            "error": row.get("error_type"),
            "cause": row.get("error_message"),
            "output": output,
            "truncated": cut,
        }
    _fill_containers(states, inner, views)
    return views


def _descendants(states: list[StateInfo], root: str) -> list[StateInfo]:
    parents = {s.name: s.parent for s in states}

    def under(name: str) -> bool:
        parent = parents.get(name)
        while parent is not None:
            if parent == root:
                return True
            parent = parents.get(parent)
        return False

    return [s for s in states if under(s.name)]


def _fill_containers(states: list[StateInfo], inner: list[StateInfo], views: dict[str, dict[str, Any]]) -> None:
    """A Parallel (or nested Map) inside the item processor takes its status from its children, innermost
    first; a Catch on it turns a child's failure into caught."""
    for info in reversed(inner):
        if info.type not in ("Parallel", "Map") or info.name in views:
            continue
        children = [s.name for s in states if s.parent == info.name]
        statuses = {name: views.get(name, {}).get("status", "not_started") for name in children}
        views[info.name] = {"status": _aggregate(children, statuses, info.catches)}
