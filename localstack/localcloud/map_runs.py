"""Child executions of a Distributed Map, visible through the Step Functions API as on AWS.

On AWS each item of a Distributed Map runs as a child execution: `ListExecutions(mapRunArn=...)` lists
them and `GetExecutionHistory` / `DescribeExecution` read each one. moto 5.2.5 evaluates the items but
writes all their events into one throw-away event list and answers `ListExecutions(mapRunArn=...)` with
a 500. These patches give every item its own event list and register it as a child execution:

- `DistributedItemProcessorWorker._eval_job`: a fresh EventManager per item, framed by
  ExecutionStarted / ExecutionSucceeded|ExecutionFailed, recorded under the map run's ARN;
- `StepFunctionResponse.list_executions`: answers `mapRunArn=` from that record;
- `StepFunctionBackend.describe_execution` (and so `get_execution_history`, which the parser backend
  builds on it): finds child executions by ARN.

Memory: the children of the most recent map runs are kept (LOCALCLOUD_MAP_RUNS_KEPT, default 20);
a 10,000-item run keeps ~10,000 small event lists until it is evicted.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from localcloud.patchpoints import PatchPoint

_ITEM_WORKER = (
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor."
    "distributed_item_processor_worker"
)

EVAL_JOB = PatchPoint(
    _ITEM_WORKER,
    "DistributedItemProcessorWorker._eval_job",
    ("self", "env", "job"),
    "c97e0ed4aba18b55041cf230e08702bac92d4aa7ad4f891330dd7a5fa906a72c",
)
LIST_EXECUTIONS = PatchPoint(
    "moto.stepfunctions.responses",
    "StepFunctionResponse.list_executions",
    ("self",),
    "6fec14cfc5afd6b885954398772bfbf30a82bf37da8b30c4005ec49b1c84df9a",
)
DESCRIBE_EXECUTION = PatchPoint(
    "moto.stepfunctions.models",
    "StepFunctionBackend.describe_execution",
    ("self", "execution_arn"),
    "74309ac20095b1027ed76d4d2ccbbb5974dff772184eadf1e5a7409281b04d5e",
)
POINTS = (EVAL_JOB, LIST_EXECUTIONS, DESCRIBE_EXECUTION)


@dataclass
class ChildExecution:
    """Just the attributes moto's describe/history responses read from an execution."""

    execution_arn: str
    name: str
    state_machine_arn: str
    map_run_arn: str
    execution_input: str
    start_date: dt.datetime
    status: str = "RUNNING"
    stop_date: dt.datetime | None = None
    output: str | None = None
    output_details: dict[str, Any] = field(default_factory=lambda: {"included": True})
    error: str | None = None
    cause: str | None = None
    event_manager: Any = None

    def to_history_output(self) -> dict[str, Any]:
        return {"events": self.event_manager.get_event_history() if self.event_manager else []}

    def to_describe_output(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "executionArn": self.execution_arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": self.start_date,
            "input": self.execution_input,
            "mapRunArn": self.map_run_arn,
        }
        if self.stop_date:
            out["stopDate"] = self.stop_date
        if self.output is not None:
            out["output"] = self.output
        if self.error:
            out["error"] = self.error
        if self.cause:
            out["cause"] = self.cause
        return out


class _Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: OrderedDict[str, list[ChildExecution]] = OrderedDict()
        self._by_arn: dict[str, ChildExecution] = {}

    def add(self, child: ChildExecution) -> None:
        keep = int(os.environ.get("LOCALCLOUD_MAP_RUNS_KEPT", "20"))
        with self._lock:
            if child.map_run_arn not in self._runs:
                self._runs[child.map_run_arn] = []
                while len(self._runs) > keep:
                    _, evicted = self._runs.popitem(last=False)
                    for old in evicted:
                        self._by_arn.pop(old.execution_arn, None)
            self._runs[child.map_run_arn].append(child)
            self._by_arn[child.execution_arn] = child

    def children(self, map_run_arn: str) -> list[ChildExecution]:
        with self._lock:
            return list(self._runs.get(map_run_arn, []))

    def get(self, execution_arn: str) -> ChildExecution | None:
        return self._by_arn.get(execution_arn)

    def clear(self) -> None:
        with self._lock:
            self._runs.clear()
            self._by_arn.clear()


CHILDREN = _Registry()


def _child_arn(map_run_arn: str, name: str) -> str:
    # arn:aws:states:R:A:mapRun:<machine>/<label>:<id>  ->  arn:aws:states:R:A:execution:<machine>/<label>:<name>
    prefix, _, rest = map_run_arn.partition(":mapRun:")
    machine_label = rest.rsplit(":", 1)[0]
    return f"{prefix}:execution:{machine_label}:{name}"


def _eval_job(self: Any, env: Any, job: Any) -> None:
    from moto.stepfunctions.parser.api import HistoryEventType
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    record = self._map_run_record
    map_run_arn = record.map_run_arn
    name = str(uuid.uuid4())
    child = ChildExecution(
        execution_arn=_child_arn(map_run_arn, name),
        name=name,
        state_machine_arn=map_run_arn.replace(":mapRun:", ":stateMachine:").rsplit(":", 1)[0],
        map_run_arn=map_run_arn,
        execution_input=to_json_str(job.job_input),
        start_date=dt.datetime.now(dt.UTC),
        event_manager=EventManager(),
    )
    env.event_manager = child.event_manager
    env.event_manager.add_event(
        context=env.event_history_context,
        event_type=HistoryEventType.ExecutionStarted,
        event_details=EventDetails(
            executionStartedEventDetails={
                "input": child.execution_input,
                "inputDetails": {"truncated": False},
                "roleArn": "arn:aws:iam::000000000000:role/local",
            }
        ),
    )
    try:
        EVAL_JOB.original()(self, env, job)
    finally:
        output = job.job_output
        child.stop_date = dt.datetime.now(dt.UTC)
        if isinstance(output, Exception):
            child.status = "FAILED"
            child.error = type(output).__name__
            child.cause = str(output)[:32768]
            env.event_manager.add_event(
                context=env.event_history_context,
                event_type=HistoryEventType.ExecutionFailed,
                event_details=EventDetails(executionFailedEventDetails={"error": child.error, "cause": child.cause}),
            )
        else:
            child.status = "SUCCEEDED"
            child.output = to_json_str(output)
            env.event_manager.add_event(
                context=env.event_history_context,
                event_type=HistoryEventType.ExecutionSucceeded,
                event_details=EventDetails(
                    executionSucceededEventDetails={"output": child.output, "outputDetails": {"truncated": False}}
                ),
            )
        CHILDREN.add(child)


def _list_executions(self: Any) -> Any:
    map_run_arn = self._get_param("mapRunArn")
    if not map_run_arn:
        return LIST_EXECUTIONS.original()(self)
    from moto.core.responses import ActionResult

    status_filter = self._get_param("statusFilter")
    executions = []
    for child in CHILDREN.children(map_run_arn):
        if status_filter and child.status != status_filter:
            continue
        item = {
            "executionArn": child.execution_arn,
            "name": child.name,
            "startDate": child.start_date,
            "stateMachineArn": child.state_machine_arn,
            "status": child.status,
            "mapRunArn": map_run_arn,
        }
        if child.stop_date:
            item["stopDate"] = child.stop_date
        executions.append(item)
    return ActionResult({"executions": executions})


def _describe_execution(self: Any, execution_arn: str) -> Any:
    child = CHILDREN.get(execution_arn)
    if child is not None:
        return child
    return DESCRIBE_EXECUTION.original()(self, execution_arn)


def install() -> None:
    EVAL_JOB.install(_eval_job)
    LIST_EXECUTIONS.install(_list_executions)
    DESCRIBE_EXECUTION.install(_describe_execution)
