"""In-process Lambda runner: executes a function's Python handler instead of Docker.

moto stores Lambda functions but only runs their code inside Docker. :func:`install`
replaces ``moto.awslambda.models.LambdaFunction.invoke`` with :func:`invoke_function`,
which imports the function's ``Handler`` ("module.attr") from this process's sys.path
and calls it as ``handler(event, context)``.

Errors are returned in the AWS error envelope so that callers (boto3, the Step
Functions interpreter's Retry/Catch) see exactly what real Lambda would return.
"""

from __future__ import annotations

import base64
import concurrent.futures
import contextlib
import importlib
import json
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from localcloud.patchpoints import PatchPoint

LOG = logging.getLogger(__name__)

# Handlers run on a shared pool so that a timed-out handler can be abandoned (Python
# threads cannot be killed) without blocking the moto request thread. 64 workers
# leave room for a wide Map plus nested synchronous invokes; a timed-out handler
# keeps its worker until it returns by itself.
MAX_WORKERS = 64
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="localcloud-lambda")

_handler_cache: dict[str, Callable[[Any, Any], Any]] = {}
_import_lock = threading.Lock()
_env_lock = threading.Lock()

ACCOUNT_ID = "123456789012"  # moto's default account


class HandlerResolutionError(Exception):
    """The handler string cannot be imported; carries the AWS runtime error type."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


@dataclass
class LambdaContext:
    """The subset of the AWS Python runtime's context object that handlers use."""

    function_name: str
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    memory_limit_in_mb: int = 128
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    deadline_monotonic: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_monotonic - time.monotonic()) * 1000))


def resolve_handler(handler: str) -> Callable[[Any, Any], Any]:
    """Import ``module.attr`` once and cache the callable per handler string."""
    cached = _handler_cache.get(handler)
    if cached is not None:
        return cached
    module_name, _, attr = handler.rpartition(".")
    if not module_name or not attr:
        raise HandlerResolutionError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{handler}': not enough values to unpack",
        )
    # One import at a time: concurrent first invocations of the same module must not
    # observe a half-initialised module.
    with _import_lock:
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise HandlerResolutionError(
                "Runtime.ImportModuleError",
                f"Unable to import module '{module_name}': {exc}",
            ) from exc
        fn = getattr(module, attr, None)
        if fn is None or not callable(fn):
            raise HandlerResolutionError(
                "Runtime.HandlerNotFound",
                f"Handler '{attr}' missing on module '{module_name}'",
            )
        _handler_cache[handler] = fn
        return fn


def _error_payload(error_type: str, message: str, stack: list[str] | None = None) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": stack or []}).encode("utf-8")


# Product code reads its environment once per process, as it may inside Lambda (where a sandbox's
# environment never changes). Here one process runs every function, so when a call's environment differs
# from the process's the runner calls the hook named by this variable ("module:function") to make the
# product forget what it built from the old values.
ENV_CHANGE_HOOK = "LOCALCLOUD_ON_ENV_CHANGE"


def apply_environment(env: Mapping[str, str]) -> bool:
    """Put the function's environment into this process (serialised, never reverted: the functions of one
    deployment share their values). Returns True when something changed (and the hook was called)."""
    if not env:
        return False
    with _env_lock:
        changed = {k: str(v) for k, v in env.items() if os.environ.get(k) != str(v)}
        if not changed:
            return False
        os.environ.update(changed)
        hook = os.environ.get(ENV_CHANGE_HOOK)
        if hook:
            module_name, _, attr = hook.partition(":")
            getattr(importlib.import_module(module_name), attr)()
        return True


def _run(
    fn: Callable[[Any, Any], Any],
    event: Any,
    context: LambdaContext,
    env: Mapping[str, str],
    sandbox_key: str | None = None,
) -> Any:
    if sandbox_key is None:
        apply_environment(env)
        return fn(event, context)
    with SANDBOX.enter(sandbox_key, env):
        return fn(event, context)


# --- functions that run as their own role (when the local cloud enforces IAM) ------------------------------
# On AWS a function's code runs with its execution role's credentials, in a sandbox whose environment is its
# own. When moto enforces IAM (INITIAL_NO_AUTH_ACTION_COUNT), the runner does the same: it assumes the
# function's role through the local STS (the role must trust lambda.amazonaws.com) and hands the handler
# those credentials in its environment, and the process's environment is exactly the function's while it
# runs: an invocation of another function waits until the running ones end (their environments, and so
# their credentials, never mix). Handlers then see AccessDenied for anything their role does not allow.


class RoleAssumptionError(Exception):
    """The function's role cannot be assumed by Lambda."""


def iam_enforced() -> bool:
    """True when moto checks the credentials of every request (INITIAL_NO_AUTH_ACTION_COUNT is set)."""
    import math

    from moto import settings

    return math.isfinite(float(settings.INITIAL_NO_AUTH_ACTION_COUNT))


_credentials: dict[tuple[str, str], dict[str, str]] = {}
_credentials_lock = threading.Lock()


def role_credentials(account_id: str, region: str, role_arn: str, session_name: str) -> dict[str, str]:
    """The environment variables Lambda gives a function running as `role_arn` (cached per role and name)."""
    key = (role_arn, session_name)
    with _credentials_lock:
        cached = _credentials.get(key)
        if cached is not None:
            return cached
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        try:
            role = iam_backends[account_id]["aws"].get_role_by_arn(role_arn)
        except Exception as exc:  # moto's NotFoundException and friends
            raise RoleAssumptionError(f"The role defined for the function cannot be assumed by Lambda: {exc}") from exc
        if not _trusts_lambda(role.assume_role_policy_document):
            raise RoleAssumptionError(f"The role {role_arn} does not trust lambda.amazonaws.com")
        assumed = sts_backends[account_id]["aws"].assume_role(
            region_name=region,
            role_session_name=session_name[:64],
            role_arn=role_arn,
            policy="",
            duration=3600,
            external_id="",
        )
        values = {
            "AWS_ACCESS_KEY_ID": assumed.access_key_id,
            "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
            "AWS_SESSION_TOKEN": assumed.session_token,
            "AWS_SECURITY_TOKEN": assumed.session_token,
        }
        _credentials[key] = values
        return values


def _trusts_lambda(document: Any) -> bool:
    policy = json.loads(document) if isinstance(document, str) else document
    statements = policy.get("Statement", [])
    for statement in statements if isinstance(statements, list) else [statements]:
        services = (statement.get("Principal") or {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") == "Allow" and "lambda.amazonaws.com" in services and "sts:AssumeRole" in actions:
            return True
    return False


class Sandbox:
    """Whose environment the process holds. Invocations of the same function share it; another function's
    invocation waits until they end, then the environment is switched exactly (variables the previous
    function set and this one lacks are removed)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._holder: str | None = None
        self._active = 0
        self._base: dict[str, str] | None = None
        self._applied: set[str] = set()

    @contextlib.contextmanager
    def enter(self, key: str, env: Mapping[str, str]) -> Iterator[None]:
        with self._cond:
            while self._active and self._holder != key:
                self._cond.wait()
            if self._holder != key:
                self._switch(env)
                self._holder = key
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def restore(self) -> None:
        """Give the process its own environment back (once no invocation runs), e.g. when IAM stops being
        enforced."""
        with self._cond:
            while self._active:
                self._cond.wait()
            if self._base is not None:
                for name in self._applied - self._base.keys():
                    os.environ.pop(name, None)
                os.environ.update({k: v for k, v in self._base.items() if k in self._applied})
            self._holder, self._base, self._applied = None, None, set()

    def _switch(self, env: Mapping[str, str]) -> None:
        if self._base is None:
            self._base = dict(os.environ)
        wanted = {**self._base, **{k: str(v) for k, v in env.items()}}
        for name in self._applied - wanted.keys():
            os.environ.pop(name, None)
        changed = {k: v for k, v in wanted.items() if os.environ.get(k) != v}
        os.environ.update(changed)
        self._applied = set(env)
        hook = os.environ.get(ENV_CHANGE_HOOK)
        if hook:
            module_name, _, attr = hook.partition(":")
            getattr(importlib.import_module(module_name), attr)()


SANDBOX = Sandbox()


def invoke_handler(
    handler: str,
    event: Any,
    *,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 3.0,
    function_name: str = "local-function",
    function_version: str = "$LATEST",
    invoked_function_arn: str | None = None,
    memory_limit_in_mb: int = 128,
    request_id: str | None = None,
    sandbox_key: str | None = None,
) -> tuple[bytes, str | None]:
    """Run ``handler`` synchronously with a Lambda-like contract.

    Returns ``(payload_bytes, error_type)``; ``error_type`` is None on success,
    otherwise the payload is the AWS error envelope. ``sandbox_key`` (the function's ARN when it runs as
    its role) makes the process environment exactly ``env`` while the handler runs.
    """
    context = LambdaContext(
        function_name=function_name,
        function_version=function_version,
        invoked_function_arn=invoked_function_arn
        or f"arn:aws:lambda:{os.environ.get('AWS_DEFAULT_REGION', 'us-east-1')}:{ACCOUNT_ID}:function:{function_name}",
        memory_limit_in_mb=int(memory_limit_in_mb),
        aws_request_id=request_id or str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{function_name}",
        log_stream_name=f"{time.strftime('%Y/%m/%d')}/[{function_version}]{uuid.uuid4().hex}",
        deadline_monotonic=time.monotonic() + timeout_s,
    )
    processes = _worker_processes()
    if processes and sandbox_key is None:  # a function running as its role runs in this process's sandbox
        return _invoke_in_process(processes, handler, event, context, dict(env or {}), timeout_s)
    try:
        fn = resolve_handler(handler)
    except HandlerResolutionError as exc:
        return _error_payload(exc.error_type, str(exc)), exc.error_type

    future = _pool.submit(_run, fn, event, context, env or {}, sandbox_key)
    try:
        result = future.result(timeout=timeout_s)
    except concurrent.futures.TimeoutError:
        # The thread cannot be stopped; it finishes in the background like a frozen
        # Lambda sandbox would, but its result is discarded.
        error_type = "Sandbox.Timedout"
        return _error_payload(error_type, f"Task timed out after {timeout_s:.2f} seconds"), error_type
    except Exception as exc:  # noqa: BLE001 - the handler's own failure
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__))
        error_type = type(exc).__name__
        return _error_payload(error_type, str(exc), stack), error_type

    try:
        return json.dumps(result).encode("utf-8"), None
    except (TypeError, ValueError) as exc:
        error_type = "Runtime.MarshalError"
        return _error_payload(error_type, f"Unable to marshal response: {exc}"), error_type


# --- optional: handlers in worker processes -------------------------------------------------------------
# LOCALCLOUD_LAMBDA_PROCESSES=N runs handlers in N warm worker processes, as Lambda runs each invocation in
# a sandbox of its own: the handlers' CPU then uses every core instead of sharing the emulator's GIL.
# Off by default: in-process calls cost less per call and let tests observe handler state directly.
_process_pool: concurrent.futures.ProcessPoolExecutor | None = None
_process_pool_lock = threading.Lock()


def _worker_processes() -> int:
    try:
        return max(0, int(os.environ.get("LOCALCLOUD_LAMBDA_PROCESSES", "0")))
    except ValueError:
        return 0


def _init_worker(paths: list[str]) -> None:
    import sys

    for path in reversed(paths):
        if path not in sys.path:
            sys.path.insert(0, path)


def _get_process_pool(processes: int) -> concurrent.futures.ProcessPoolExecutor:
    global _process_pool
    with _process_pool_lock:
        if _process_pool is None:
            import multiprocessing
            import sys

            # spawn, not fork: this process runs the emulator's threads, which a fork would copy mid-flight.
            _process_pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(list(sys.path),),
            )
        return _process_pool


def _run_in_worker(
    handler: str, event: Any, context: LambdaContext, env: dict[str, str], timeout_s: float
) -> tuple[bytes, str | None]:
    """Runs inside a worker process: the whole invocation, answering with the payload or the envelope."""
    apply_environment(env)
    context.deadline_monotonic = time.monotonic() + timeout_s  # the worker's own clock
    try:
        fn = resolve_handler(handler)
    except HandlerResolutionError as exc:
        return _error_payload(exc.error_type, str(exc)), exc.error_type
    try:
        result = fn(event, context)
    except Exception as exc:  # noqa: BLE001 - the handler's own failure
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__))
        return _error_payload(type(exc).__name__, str(exc), stack), type(exc).__name__
    try:
        return json.dumps(result).encode("utf-8"), None
    except (TypeError, ValueError) as exc:
        return _error_payload("Runtime.MarshalError", f"Unable to marshal response: {exc}"), "Runtime.MarshalError"


def _invoke_in_process(
    processes: int, handler: str, event: Any, context: LambdaContext, env: dict[str, str], timeout_s: float
) -> tuple[bytes, str | None]:
    future = _get_process_pool(processes).submit(_run_in_worker, handler, event, context, env, timeout_s)
    try:
        return future.result(timeout=timeout_s)
    except concurrent.futures.TimeoutError:
        error_type = "Sandbox.Timedout"
        return _error_payload(error_type, f"Task timed out after {timeout_s:.2f} seconds"), error_type


def _header(headers: Any, name: str) -> str | None:
    """Case-insensitive header lookup across werkzeug/botocore/dict header types."""
    if headers is None:
        return None
    value = headers.get(name)
    if value is not None:
        return value
    for key, val in getattr(headers, "items", lambda: [])():
        if key.lower() == name:
            return val
    return None


def _decode_event(body: str | bytes | None) -> Any:
    if not body:
        return {}
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        # AWS rejects non-JSON payloads before invoking; passing the raw string keeps
        # the emulator permissive for ad-hoc calls.
        return body


def _log_tail(request_id: str, function_version: str, started: float, error_type: str | None) -> str:
    duration_ms = (time.monotonic() - started) * 1000
    lines = [f"START RequestId: {request_id} Version: {function_version}"]
    if error_type:
        lines.append(f"[ERROR] {error_type}")
    lines += [
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms",
    ]
    return base64.b64encode(("\n".join(lines) + "\n").encode("utf-8")).decode("ascii")


def invoke_function(fn: Any, body: str | bytes | None, request_headers: Any, response_headers: Any) -> str | bytes:
    """Replacement for ``LambdaFunction.invoke(self, body, request_headers, response_headers)``."""
    invocation_type = _header(request_headers, "x-amz-invocation-type") or "RequestResponse"
    if invocation_type == "DryRun":
        # Only permission/parameter validation in AWS; moto answers 204.
        return b""

    event = _decode_event(body)
    env = dict(fn.environment_vars or {})
    sandbox_key = None
    if iam_enforced():
        try:
            env.update(role_credentials(fn.account_id, fn.region, fn.role, fn.function_name))
        except RoleAssumptionError as exc:
            response_headers["x-amz-function-error"] = "Unhandled"
            return _error_payload("Runtime.RoleAssumptionError", str(exc))
        env.update(
            {"AWS_REGION": fn.region, "AWS_DEFAULT_REGION": fn.region, "AWS_LAMBDA_FUNCTION_NAME": fn.function_name}
        )
        sandbox_key = fn.function_arn
    kwargs: dict[str, Any] = dict(
        env=env,
        sandbox_key=sandbox_key,
        timeout_s=float(fn.timeout or 3),
        function_name=fn.function_name,
        function_version=str(fn.version),
        invoked_function_arn=fn.function_arn,
        memory_limit_in_mb=int(fn.memory_size or 128),
    )

    if invocation_type == "Event":
        # Fire-and-forget; moto turns the empty body into a 202. AWS would retry a
        # failed async invocation twice; here the failure is only logged.
        def _async() -> None:
            payload, error_type = invoke_handler(fn.handler, event, **kwargs)
            if error_type:
                LOG.warning("async invoke of %s failed: %s", fn.function_name, payload[:2000])

        # A plain thread rather than the pool: this wrapper waits on the pool itself,
        # so occupying a pool worker with it could starve synchronous invokes.
        threading.Thread(target=_async, name=f"localcloud-async-{fn.function_name}", daemon=True).start()
        return b""

    request_id = str(uuid.uuid4())
    started = time.monotonic()
    payload, error_type = invoke_handler(fn.handler, event, request_id=request_id, **kwargs)
    if error_type:
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["x-amz-log-result"] = _log_tail(request_id, str(fn.version), started, error_type)
    response_headers["x-amz-executed-version"] = str(fn.version)
    return payload


INVOKE = PatchPoint(
    "moto.awslambda.models",
    "LambdaFunction.invoke",
    ("self", "body", "request_headers", "response_headers"),
    "dadc324f30aed38bf9dde5a93000c195ed3e5fb5e984f71ebd4c6629fc89aa2e",
)
POINTS = (INVOKE,)


def _invoke(self: Any, body: str | bytes | None, request_headers: Any, response_headers: Any) -> str | bytes:
    return invoke_function(self, body, request_headers, response_headers)


def install() -> None:
    """Run Lambda functions with this runner instead of moto's Docker-based invoke."""
    INVOKE.install(_invoke)
