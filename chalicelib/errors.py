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
