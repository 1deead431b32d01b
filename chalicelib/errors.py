"""Error classes. Their *names* are what the state machines' Retry and Catch match on."""

from __future__ import annotations


class OrchestratorError(Exception):
    """Base class for errors the orchestrator raises on purpose."""


class TransientServiceError(OrchestratorError):
    """A platform service failed in a way worth retrying (5xx, timeout, connection refused)."""


class PermanentServiceError(OrchestratorError):
    """A platform service rejected the request (4xx): retrying the same request will not help."""


class InvalidInputError(OrchestratorError):
    """A step or route received input it cannot accept; the message names the field."""


class RunNotFoundError(OrchestratorError):
    """A step refers to an execution the database does not know."""


class LockUnavailableError(OrchestratorError):
    """The coordination store (Redis) cannot be reached, so no run may start."""


class StaleRunError(OrchestratorError):
    """A run whose lock expired and was taken over tried to write: its fencing number is no longer the
    newest for its workflow and scope, so the write is refused (the state machine may Catch this name)."""


class RunNotRunningError(OrchestratorError):
    """An operation that needs a running run (cancel) found it finished or not started."""


def recordable_message(error_type: str | None, message: str) -> str:
    """What a step's failure may say where tenants read it (failed tenants, their logs): the message of the
    orchestrator's own errors and of the platform's (Step Functions, Lambda) as is; any other exception's
    text -- a driver's SQL, a host and port, a stack -- is replaced (it stays in the service log)."""
    own = {cls.__name__ for cls in _all_subclasses(OrchestratorError)} | {OrchestratorError.__name__}
    name = error_type or ""
    if name in own or name.startswith(("States.", "Lambda.", "Sandbox.")):
        return message[:2000]
    return f"{name or 'error'}: unexpected error (the details are in the service log)"


def _all_subclasses(cls: type) -> list[type]:
    found: list[type] = []
    sub: type
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found
