"""Speed patches for moto 5.2.5's Step Functions interpreter (the emulator's own overhead, not ours).

Measured on a 6-Lambda-task-per-tenant workflow, stock moto spends most of its time outside the
handlers: a new boto3 client per task, moto's emulated HTTP round trip for every `lambda:Invoke`, the
JSONPath parser rebuilt on every path evaluation, and one thread per task to enforce TimeoutSeconds
(kept forever in `TMP_THREADS`). Each patch below removes one of those and leaves the execution history
and Retry/Catch/Timeout behaviour as they were (tests/localcloud/test_speedups.py runs the
same state machines with and without them and compares the histories).

Every patch point is checked like the others (moto version, parameters, source hash) before anything is
replaced; see localcloud.patchpoints.
"""

from __future__ import annotations

import copy
import functools
import importlib
import json
import threading
from typing import Any

from localcloud.patchpoints import PatchPoint, PatchPointMoved

_ASL = "moto.stepfunctions.parser.asl"
_LAMBDA_EVAL = f"{_ASL}.component.state.exec.state_task.lambda_eval_utils"

BOTO_CLIENT_FOR = PatchPoint(
    f"{_ASL}.utils.boto_client",
    "boto_client_for",
    ("region", "service", "state_credentials"),
    "1f44dc2ac8aa2179df62365a6e5ea377f1770ea828a0f107440a2554f1b4edb8",
    imported_by=(
        _LAMBDA_EVAL,
        f"{_ASL}.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
        f"{_ASL}.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
        f"{_ASL}.component.state.exec.state_task.service.state_task_service_unsupported",
        f"{_ASL}.component.state.exec.state_task.service.state_task_service_glue",
    ),
)
INVOKE_LAMBDA = PatchPoint(
    _LAMBDA_EVAL,
    "_invoke_lambda_function",
    ("parameters", "region", "state_credentials"),
    "0ebcddb746e422b052963ea2d51eb1730a7d36968f67d27dd421e5ec0729fbae",
)
# Checked, not replaced: the two callers of `parse` whose parsed paths patch 3 caches.
EXTRACT_JSON = PatchPoint(
    f"{_ASL}.utils.json_path",
    "extract_json",
    ("path", "data"),
    "932245247973780c72287b75597e70031472f0cd764f35a199100d8a195987a4",
)
RESULT_PATH_EVAL = PatchPoint(
    f"{_ASL}.component.common.path.result_path",
    "ResultPath._eval_body",
    ("self", "env"),
    "a6d93b4e5a332fadf256032411a32a39e24fdbf8080462c6c037bfe11c195081",
)
EVALUATE_WITH_TIMEOUT = PatchPoint(
    f"{_ASL}.component.state.exec.execute_state",
    "ExecutionState._evaluate_with_timeout",
    ("self", "env"),
    "c56deda08a42e98d3958bfb2ab95de74c7ec7a515085614a80e1ea4948722485",
)
POINTS = (BOTO_CLIENT_FOR, INVOKE_LAMBDA, EXTRACT_JSON, RESULT_PATH_EVAL, EVALUATE_WITH_TIMEOUT)


# --- 1. one boto3 client per (region, service) --------------------------------------------------------
_clients: dict[tuple[str, str, str, Any], Any] = {}
_clients_lock = threading.Lock()


def _cached_boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    # The original builds a new client (~3 ms) for every task; botocore clients are thread-safe.
    from moto.settings import moto_server_port

    # The original reads the emulator's port at call time; so does the key (a later LocalCloud may differ).
    key = (region, service, repr(state_credentials), moto_server_port())
    client = _clients.get(key)
    if client is None:
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = BOTO_CLIENT_FOR.original()(region, service, state_credentials)
    return client


# --- 2. invoke the Lambda backend directly --------------------------------------------------------------
def _direct_invoke_lambda_function(parameters: dict, region: str, state_credentials: Any) -> dict:
    """Same response shape as the original (`Payload` parsed, `FunctionError` when the handler failed),
    without serialising the call through botocore and moto's HTTP layer."""
    from moto.awslambda.models import lambda_backends

    arn = str(parameters.get("FunctionName", ""))
    parts = arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda" or set(parameters) - {"FunctionName", "Payload"}:
        return INVOKE_LAMBDA.original()(parameters, region, state_credentials)
    account, fn_region, name = parts[4], parts[3], parts[6]
    qualifier = parts[7] if len(parts) > 7 else None
    backend = lambda_backends[account][fn_region]
    try:
        backend.get_function(name, qualifier)
    except Exception:  # noqa: BLE001 - unknown function: let the original produce AWS's exact error
        return INVOKE_LAMBDA.original()(parameters, region, state_credentials)
    response_headers: dict[str, str] = {}
    raw = backend.invoke(name, qualifier, parameters.get("Payload"), {}, response_headers)
    text = raw.decode("utf-8") if isinstance(raw, bytes) else (raw or "")
    try:
        payload: Any = json.loads(text)
    except ValueError:
        payload = text
    response: dict[str, Any] = {"StatusCode": 200, "Payload": payload, "ExecutedVersion": "$LATEST"}
    if "x-amz-function-error" in response_headers:
        response["FunctionError"] = response_headers["x-amz-function-error"]
    return response


# --- 3. parse each JSONPath once ------------------------------------------------------------------------
def _patch_jsonpath_parsers() -> None:
    # Parsed expressions are immutable trees; `find`/`update_or_create` never change them.
    for module_name in (f"{_ASL}.utils.json_path", f"{_ASL}.component.common.path.result_path"):
        module: Any = importlib.import_module(module_name)  # Any: its `parse` is replaced below
        parse = module.parse
        if getattr(parse, "__localcloud_original__", None) is None:
            cached = functools.lru_cache(maxsize=4096)(parse)
            cached.__localcloud_original__ = parse  # type: ignore[attr-defined]
            module.parse = cached


# --- 4. no thread per Lambda task when the function's own timeout comes first ----------------------------
def _function_timeout(resource_arn: str) -> float | None:
    from moto.awslambda.models import lambda_backends

    parts = resource_arn.split(":")
    if len(parts) < 7 or parts[2] != "lambda":
        return None
    try:
        fn = lambda_backends[parts[4]][parts[3]].get_function(parts[6], parts[7] if len(parts) > 7 else None)
    except Exception:  # noqa: BLE001 - unknown function: keep moto's own path
        return None
    return float(fn.timeout or 3)


def _evaluate_with_timeout(self: Any, env: Any) -> None:
    """moto runs every task on a new thread and waits TimeoutSeconds for it. For a Lambda task whose
    function Timeout is not longer than TimeoutSeconds the project's Lambda runner ends the call first
    (Sandbox.Timedout, as on AWS), so the extra thread can never fire: run on this thread instead."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda

    original = EVALUATE_WITH_TIMEOUT.original()
    if not isinstance(self, StateTaskLambda):
        return original(self, env)
    function_timeout = _function_timeout(self.resource.resource_arn)
    self.timeout.eval(env=env)
    timeout_seconds = env.stack.pop()
    if function_timeout is None or function_timeout > timeout_seconds:
        return original(self, env)  # it evaluates the timeout again itself

    # From here on: the original's body with `Thread(target=_exec_and_notify).start(); wait()` replaced
    # by a direct call.
    frame = env.open_frame()
    frame.states.reset(input_value=env.states.get_input())
    frame.stack = _copy_json(env.stack)
    execution_outputs: list[Any] = []
    execution_exception: Exception | None = None
    try:
        self._eval_execution(frame)
        execution_outputs.extend(frame.stack)
    except Exception as ex:  # noqa: BLE001 - re-raised below, as the original does
        execution_exception = ex
    frame.set_ended()
    env.close_frame(frame)
    if execution_exception is not None:
        raise execution_exception

    execution_output = execution_outputs.pop()
    env.stack.append(execution_output)
    if not self._is_language_query_jsonpath():
        env.states.set_result(execution_output)
    if self.assign_decl:
        self.assign_decl.eval(env=env)
    if self.result_selector:
        self.result_selector.eval(env=env)
    if self.result_path:
        self.result_path.eval(env)
    else:
        res = env.stack.pop()
        env.states.reset(input_value=res)


# --- 5. copy state data without copy.deepcopy's generality ----------------------------------------------
# The interpreter deep-copies every state input, result and frame stack. Those are JSON values (dicts,
# lists, strings, numbers, booleans, None): a plain recursive copy of them is several times faster and
# gives an equal, unshared value. Anything else still goes through copy.deepcopy.
_ATOMIC = (str, int, float, bool, type(None))


def _copy_json(value: Any, memo: Any = None) -> Any:
    kind = type(value)
    if kind is dict:
        return {key: _copy_json(item) for key, item in value.items()}
    if kind is list:
        return [_copy_json(item) for item in value]
    if kind in _ATOMIC:
        return value
    return copy.deepcopy(value, memo)


class _CopyModule:
    """Stands in for the `copy` module inside the interpreter's modules; only deepcopy differs."""

    deepcopy = staticmethod(_copy_json)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


DEEPCOPY_MODULES = (
    f"{_ASL}.eval.states",
    f"{_ASL}.eval.environment",
    f"{_ASL}.eval.event.event_manager",
    f"{_ASL}.component.state.exec.execute_state",
)


def _patch_deepcopy() -> None:
    for module_name in DEEPCOPY_MODULES:
        module: Any = importlib.import_module(module_name)  # Any: its `copy` is replaced below
        if isinstance(module.copy, _CopyModule):
            continue
        if module.copy is not copy:
            raise PatchPointMoved(f"{module_name}.copy is not the copy module any more")
        module.copy = _CopyModule()


def install() -> None:
    BOTO_CLIENT_FOR.install(_cached_boto_client_for)
    INVOKE_LAMBDA.install(_direct_invoke_lambda_function)
    _patch_jsonpath_parsers()
    _patch_deepcopy()
    EVALUATE_WITH_TIMEOUT.install(_evaluate_with_timeout)
