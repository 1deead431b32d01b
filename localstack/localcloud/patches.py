"""Runtime patches that make moto 5.2.5 usable as the project's local cloud.

Every patch targets one exact piece of moto code. Before patching, the target is
checked (class/method present, same parameters, same source hash, same moto version)
and :class:`PatchPointMoved` is raised otherwise, so a moto upgrade fails loudly
instead of silently running with a patch written for different code.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import logging
import os
import pkgutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MOTO_VERSION = "5.2.5"

_MAP_ITERATION = "moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration"
_EVAL_COMPONENT = "moto.stepfunctions.parser.asl.component.eval_component"
_PARSER_LOGGER = "moto.stepfunctions.parser"

_lock = threading.Lock()
_applied = False


class PatchPointMoved(RuntimeError):
    """moto no longer has the code a patch was written for."""


@dataclass(frozen=True)
class PatchPoint:
    module: str
    cls: str
    method: str
    params: tuple[str, ...]
    source_sha256: str

    @property
    def name(self) -> str:
        return f"{self.module}.{self.cls}.{self.method}"

    def original(self) -> Callable[..., Any]:
        """The unpatched function (also after patching, via the saved reference)."""
        try:
            owner = getattr(importlib.import_module(self.module), self.cls)
        except (ImportError, AttributeError) as exc:
            raise PatchPointMoved(f"{self.name}: class not found ({exc})") from exc
        fn = owner.__dict__.get(self.method)
        if fn is None:
            raise PatchPointMoved(f"{self.name}: method no longer defined on {self.cls}")
        return getattr(fn, "__localcloud_original__", fn)

    def check(self) -> Callable[..., Any]:
        """Verify moto version, parameters and source hash; return the original."""
        import moto

        if moto.__version__ != MOTO_VERSION:
            raise PatchPointMoved(
                f"{self.name}: patches were written for moto {MOTO_VERSION}, found {moto.__version__}; "
                "re-read the patched code and update localcloud/patches.py"
            )
        fn = self.original()
        params = tuple(inspect.signature(fn).parameters)
        if params != self.params:
            raise PatchPointMoved(f"{self.name}: parameters are {params}, patch expects {self.params}")
        digest = hashlib.sha256(inspect.getsource(fn).encode("utf-8")).hexdigest()
        if digest != self.source_sha256:
            raise PatchPointMoved(
                f"{self.name}: source changed (sha256 {digest}, patch written for {self.source_sha256})"
            )
        return fn

    def install(self, replacement: Callable[..., Any]) -> None:
        original = self.check()
        replacement.__localcloud_original__ = original  # type: ignore[attr-defined]
        replacement.__qualname__ = f"{self.cls}.{self.method}"
        owner = getattr(importlib.import_module(self.module), self.cls)
        setattr(owner, self.method, replacement)


LAMBDA_INVOKE = PatchPoint(
    "moto.awslambda.models",
    "LambdaFunction",
    "invoke",
    ("self", "body", "request_headers", "response_headers"),
    "dadc324f30aed38bf9dde5a93000c195ed3e5fb5e984f71ebd4c6629fc89aa2e",
)
_POOL_PARAMS = ("self", "job", "worker_frame")
MAP_INLINE_POOL = PatchPoint(
    f"{_MAP_ITERATION}.iteration_worker",
    "IterationWorker",
    "_eval_pool",
    _POOL_PARAMS,
    "45ca0026e8cc8e8593761915b6acd8ceab08f2bcdb819378c690bb9a5cdd3da7",
)
MAP_DISTRIBUTED_ITEM_PROCESSOR_POOL = PatchPoint(
    f"{_MAP_ITERATION}.itemprocessor.distributed_item_processor_worker",
    "DistributedItemProcessorWorker",
    "_eval_pool",
    _POOL_PARAMS,
    "8797235af229965ff2294510e693a602ece233165d80bc130a0dbd19bdd9963a",
)
MAP_DISTRIBUTED_ITERATOR_POOL = PatchPoint(
    f"{_MAP_ITERATION}.iterator.distributed_iterator_worker",
    "DistributedIteratorWorker",
    "_eval_pool",
    _POOL_PARAMS,
    "e1d825fe6e13a29bb2c9501aa35ddf2370b427996d576028fb0ffb553c98d374",
)
# Not replaced: the log filter depends on the message format of these two methods.
LOG_FAILURE_EVENT = PatchPoint(
    _EVAL_COMPONENT,
    "EvalComponent",
    "_log_failure_event_exception",
    ("self", "failure_event_exception"),
    "7d7aa73b14eebc890147ff5895a4381f67aba50d3b91f890bcb5f67c6481c95d",
)
LOG_EXCEPTION = PatchPoint(
    _EVAL_COMPONENT,
    "EvalComponent",
    "_log_exception",
    ("self", "exception"),
    "2125c07bc2eec625f737a61a1e49380c5596ac4afc5c28d885836e2ad30fe8c8",
)

PATCH_POINTS: tuple[PatchPoint, ...] = (
    LAMBDA_INVOKE,
    MAP_INLINE_POOL,
    MAP_DISTRIBUTED_ITEM_PROCESSOR_POOL,
    MAP_DISTRIBUTED_ITERATOR_POOL,
    LOG_FAILURE_EVENT,
    LOG_EXCEPTION,
)


def check_patch_points() -> list[str]:
    """Check every patch point without changing anything; return their names."""
    for point in PATCH_POINTS:
        point.check()
    return [point.name for point in PATCH_POINTS]


# --- Patch 1: Lambda runner -------------------------------------------------------


def _lambda_invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> str | bytes:
    # Replaces the Docker-based invoke: run the handler in-process (lambda_runner).
    from localcloud.lambda_runner import invoke_function

    return invoke_function(self, body, request_headers, response_headers)


# --- Patch 2: Map worker trampolines ----------------------------------------------
# The originals end with `self._eval_pool(job=next_job, worker_frame=worker_frame)`,
# one Python frame per item, so a worker that processes ~950+ items (MaxConcurrency
# set, or a distributed map) dies with RecursionError. Each replacement is the same
# body with that tail call turned into `job = next_job` inside a loop; nothing runs
# after the tail call in the originals, so behaviour is identical.


def _inline_eval_pool(self: Any, job: Any, worker_frame: Any) -> None:
    while True:
        # The frame has to be closed before the job, so the owner environment is
        # updated before the map state (which awaits jobs, not workers) continues.
        if job is None:
            self._env.close_frame(worker_frame)
            return

        job_frame = worker_frame.open_inner_frame()
        self._eval_job(env=job_frame, job=job)
        worker_frame.close_frame(job_frame)

        # Evaluation terminates here due to exception in job, or worker was stopped.
        if isinstance(job.job_output, Exception) or self.stopped():
            self._env.close_frame(worker_frame)
            self._job_pool.close_job(job)
            return

        next_job = self._job_pool.next_job()
        if next_job is None:
            # Non-faulty terminal iteration events are the source of the following states.
            worker_frame.event_history_context.source_event_id = job_frame.event_history_context.last_published_event_id
            self._env.close_frame(worker_frame)
            self._job_pool.close_job(job)
            return

        self._job_pool.close_job(job)
        job = next_job


def _make_distributed_eval_pool(open_frame_attr: str) -> Callable[..., None]:
    # The two distributed workers differ only in how the job frame is opened
    # (open_inner_frame for the item processor, open_frame for the iterator).
    def _distributed_eval_pool(self: Any, job: Any, worker_frame: Any) -> None:
        while True:
            if job is None:
                self._env.delete_frame(worker_frame)
                return

            job_frame = getattr(worker_frame, open_frame_attr)()
            self._eval_job(env=job_frame, job=job)
            worker_frame.delete_frame(job_frame)

            if isinstance(job.job_output, Exception) or self.stopped():
                self._env.delete_frame(worker_frame)
                self._job_pool.close_job(job)
                return

            next_job = self._job_pool.next_job()
            if next_job is None:
                self._env.delete_frame(worker_frame)
                self._job_pool.close_job(job)
                return

            self._job_pool.close_job(job)
            job = next_job

    return _distributed_eval_pool


# --- Patch 3: quiet Step Functions interpreter logs --------------------------------

MAX_LOG_CHARS = 500


class _QuietStepFunctionsFilter(logging.Filter):
    """Drops expected failure dumps and truncates the rest.

    EvalComponent logs every FailureEventException at ERROR once per nesting level,
    with the repr of the whole component tree: these are task failures that
    Retry/Catch handle and that the execution history records anyway.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == _EVAL_COMPONENT and record.msg == "%s at '%s'":
            first = record.args[0] if isinstance(record.args, tuple) and record.args else ""
            if str(first).startswith("Exception=FailureEventException"):
                return False
            # Other exceptions keep their summary but lose the component-tree repr.
            record.msg, record.args = "%s", (str(first)[:MAX_LOG_CHARS],)
            return True
        message = record.getMessage()
        if len(message) > MAX_LOG_CHARS:
            record.msg, record.args = (
                "%s",
                (message[:MAX_LOG_CHARS] + "... [truncated]",),
            )
        return True


_FILTER = _QuietStepFunctionsFilter()


def _quiet_stepfunctions_logs() -> None:
    LOG_FAILURE_EVENT.check()
    LOG_EXCEPTION.check()
    # Import the whole interpreter so its module loggers exist, then attach the filter
    # to each: a parent logger's filters do not apply to its children's records.
    # (parser.provider is not importable: it needs a package moto does not ship.)
    importlib.import_module("moto.stepfunctions.parser.models")
    asl = importlib.import_module("moto.stepfunctions.parser.asl")
    for module in pkgutil.walk_packages(asl.__path__, asl.__name__ + "."):
        # A few optional modules need packages moto does not ship.
        with contextlib.suppress(ImportError):
            importlib.import_module(module.name)
    logging.getLogger(_PARSER_LOGGER).setLevel(logging.WARNING)
    # "ToleratedFailurePercentage declarations currently have no effect" is logged at every parse of the
    # daily state machine: a known emulator gap (README, "How the local cloud differs"), not news each time.
    logging.getLogger(f"{_PARSER_LOGGER}.asl.parse.preprocessor").setLevel(logging.ERROR)
    names = [n for n in logging.root.manager.loggerDict if n == _PARSER_LOGGER or n.startswith(_PARSER_LOGGER + ".")]
    for name in names + [_EVAL_COMPONENT]:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def apply() -> None:
    """Install all patches once (idempotent, thread-safe)."""
    global _applied
    with _lock:
        if _applied:
            return
        # Check everything first so that a moved patch point leaves moto untouched.
        check_patch_points()
        LAMBDA_INVOKE.install(_lambda_invoke)
        MAP_INLINE_POOL.install(_inline_eval_pool)
        MAP_DISTRIBUTED_ITEM_PROCESSOR_POOL.install(_make_distributed_eval_pool("open_inner_frame"))
        MAP_DISTRIBUTED_ITERATOR_POOL.install(_make_distributed_eval_pool("open_frame"))
        _quiet_stepfunctions_logs()
        from localcloud.map_runs import apply_map_runs

        apply_map_runs()  # Distributed Map children listed and readable as on AWS
        if os.environ.get("LOCALCLOUD_SPEEDUPS", "1") != "0":  # 0: stock moto speed (the benchmark's peer)
            from localcloud.speedups import apply_speedups

            apply_speedups()
        _applied = True


def is_applied() -> bool:
    return _applied
