"""Quiet Step Functions interpreter logs: moto logs every handled task failure at ERROR with a huge dump.

EvalComponent logs every FailureEventException at ERROR once per nesting level, with the repr of the whole
component tree: these are task failures that Retry/Catch handle and that the execution history records
anyway. The filter drops them and truncates the rest. Nothing of moto is replaced; the two logging methods
are patch points because the filter depends on their message format.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import pkgutil

from localcloud.patchpoints import PatchPoint

_EVAL_COMPONENT = "moto.stepfunctions.parser.asl.component.eval_component"
_PARSER_LOGGER = "moto.stepfunctions.parser"
MAX_LOG_CHARS = 500

LOG_FAILURE_EVENT = PatchPoint(
    _EVAL_COMPONENT,
    "EvalComponent._log_failure_event_exception",
    ("self", "failure_event_exception"),
    "7d7aa73b14eebc890147ff5895a4381f67aba50d3b91f890bcb5f67c6481c95d",
)
LOG_EXCEPTION = PatchPoint(
    _EVAL_COMPONENT,
    "EvalComponent._log_exception",
    ("self", "exception"),
    "2125c07bc2eec625f737a61a1e49380c5596ac4afc5c28d885836e2ad30fe8c8",
)
POINTS = (LOG_FAILURE_EVENT, LOG_EXCEPTION)


class QuietStepFunctionsFilter(logging.Filter):
    """Drops expected failure dumps and truncates the rest."""

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
            record.msg, record.args = "%s", (message[:MAX_LOG_CHARS] + "... [truncated]",)
        return True


_FILTER = QuietStepFunctionsFilter()


def install() -> None:
    for point in POINTS:
        point.check()
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
    for name in [*names, _EVAL_COMPONENT]:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
