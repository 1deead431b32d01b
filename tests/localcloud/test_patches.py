"""The moto patch points still match, and the Map trampoline handles long item lists."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import moto
import pytest

from localcloud import LocalCloud, lambda_runner, patches, quiet_logs, speedups
from localcloud.patchpoints import MOTO_VERSION, PatchPoint, PatchPointMoved
from tests.localcloud.handlers.support import (
    create_function,
    sfn_role_arn,
    shared_cloud,
    unique,
    wait_for_execution,
)

INVOKE_PARAMS = ("self", "body", "request_headers", "response_headers")


@pytest.fixture(scope="module")
def cloud() -> LocalCloud:
    return shared_cloud()


def test_patch_points_match_installed_moto() -> None:
    # GIVEN the pinned moto
    # WHEN every patch point of every patch module is checked (version, parameters, source hash, importers)
    names = patches.check_patch_points()
    # THEN all of them still match what the patches were written for
    assert moto.__version__ == MOTO_VERSION
    assert len(names) == len(set(names)) == 22
    assert set(patches.PATCH_POINTS) == {p for m in patches.ALL_MODULES for p in m.POINTS}


@pytest.mark.parametrize(
    ("point", "message"),
    [
        (PatchPoint("moto.no_such_module", "f", (), ""), "module not found"),
        (PatchPoint("moto.awslambda.models", "NoSuchClass.invoke", (), ""), "class NoSuchClass not found"),
        (PatchPoint("moto.awslambda.models", "LambdaFunction.no_such_method", (), ""), "no longer defined"),
        (PatchPoint("moto.awslambda.models", "no_such_function", (), ""), "no longer defined"),
        (PatchPoint("moto.awslambda.models", "LambdaFunction.invoke", ("self", "body"), ""), "parameters are"),
        (PatchPoint("moto.awslambda.models", "LambdaFunction.invoke", INVOKE_PARAMS, "0" * 64), "source changed"),
        (
            PatchPoint(
                speedups.INVOKE_LAMBDA.module, speedups.INVOKE_LAMBDA.target, speedups.INVOKE_LAMBDA.params, "0" * 64
            ),
            "source changed",
        ),
        (
            PatchPoint(
                speedups.BOTO_CLIENT_FOR.module,
                speedups.BOTO_CLIENT_FOR.target,
                speedups.BOTO_CLIENT_FOR.params,
                speedups.BOTO_CLIENT_FOR.source_sha256,
                imported_by=("moto.awslambda.models",),
            ),
            "is not the function being patched",
        ),
    ],
)
def test_moved_patch_point_is_reported(point: PatchPoint, message: str) -> None:
    # GIVEN a patch point (method or function) that does not match moto / WHEN checked / THEN PatchPointMoved says why
    with pytest.raises(PatchPointMoved, match=message):
        point.check()


def test_other_moto_version_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a moto other than the one the patches were written for
    monkeypatch.setattr(moto, "__version__", "5.2.6")
    # WHEN a patch point is checked / THEN it refuses, naming both versions
    with pytest.raises(PatchPointMoved, match="written for moto 5.2.5, found 5.2.6"):
        lambda_runner.INVOKE.check()


def test_moved_patch_point_is_never_installed() -> None:
    # GIVEN a patch point whose source hash no longer matches
    from moto.awslambda.models import LambdaFunction

    before = LambdaFunction.invoke
    moved = PatchPoint("moto.awslambda.models", "LambdaFunction.invoke", INVOKE_PARAMS, "0" * 64)
    # WHEN installed / THEN it refuses and moto keeps what it had
    with pytest.raises(PatchPointMoved, match="source changed"):
        moved.install(lambda *args: None)
    assert LambdaFunction.invoke is before


def test_apply_is_idempotent(cloud: LocalCloud) -> None:
    # GIVEN patches already applied by the running cloud
    from moto.awslambda.models import LambdaFunction

    installed = LambdaFunction.invoke
    # WHEN applied again
    patches.apply()
    # THEN nothing is re-wrapped and the original stays reachable for the checks
    assert patches.is_applied()
    assert LambdaFunction.invoke is installed
    assert installed.__localcloud_original__.__module__ == "moto.awslambda.models"


def test_log_filter_drops_failure_dumps_and_truncates() -> None:
    # GIVEN records shaped like moto's Step Functions error logs
    logger_name = "moto.stepfunctions.parser.asl.component.eval_component"
    failure = logging.LogRecord(
        logger_name,
        logging.ERROR,
        "",
        0,
        "%s at '%s'",
        ("Exception=FailureEventException, Error=X", "<huge repr>"),
        None,
    )
    other = logging.LogRecord(
        logger_name,
        logging.ERROR,
        "",
        0,
        "%s at '%s'",
        ("Exception=KeyError", "x" * 10_000),
        None,
    )
    long = logging.LogRecord("moto.stepfunctions.parser.x", logging.ERROR, "", 0, "%s", ("y" * 10_000,), None)
    quiet = logging.getLogger(logger_name).filters
    # WHEN filtered by the installed filter
    [flt] = [f for f in quiet if isinstance(f, quiet_logs.QuietStepFunctionsFilter)]
    # THEN handled task failures vanish and the rest are short
    assert not flt.filter(failure)
    assert flt.filter(other) and other.getMessage() == "Exception=KeyError"
    assert flt.filter(long) and len(long.getMessage()) <= quiet_logs.MAX_LOG_CHARS + 20
    assert logging.getLogger("moto.stepfunctions.parser").level == logging.WARNING


def _run_map(cloud: LocalCloud, processor: dict[str, Any], count: int) -> tuple[dict[str, Any], float]:
    definition = {
        "StartAt": "EachTenant",
        "States": {
            "EachTenant": {
                "Type": "Map",
                "ItemsPath": "$.items",
                # One worker processes every item: the case that recursed once per item.
                "MaxConcurrency": 1,
                "ItemProcessor": processor,
                "End": True,
            }
        },
    }
    sfn = cloud.client("stepfunctions")
    machine = sfn.create_state_machine(name=unique("map"), definition=json.dumps(definition), roleArn=sfn_role_arn())
    started = time.monotonic()
    execution = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"],
        input=json.dumps({"items": [{"value": i} for i in range(count)]}),
    )
    described = wait_for_execution(cloud, execution["executionArn"], timeout_s=120)
    return described, time.monotonic() - started


PASS_ITEM = {"StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}}


@pytest.mark.parametrize("mode", ["INLINE", "DISTRIBUTED"])
def test_map_of_1500_items_on_one_worker_succeeds(cloud: LocalCloud, mode: str) -> None:
    # GIVEN a Map with 1,500 items and MaxConcurrency 1 (unpatched: RecursionError / stuck RUNNING)
    processor = {
        **PASS_ITEM,
        "ProcessorConfig": {"Mode": mode, "ExecutionType": "STANDARD"},
    }
    # WHEN it runs
    described, seconds = _run_map(cloud, processor, 1500)
    # THEN it succeeds with every item's output in order
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [{"value": i} for i in range(1500)]
    print(f"Map {mode} 1,500 Pass items: {seconds:.1f} s")


def test_map_of_1500_lambda_items_succeeds(cloud: LocalCloud) -> None:
    # GIVEN a Map whose item step is a Lambda task run by the in-process runner
    fn = create_function(cloud, "tests.localcloud.handlers.flaky.item", prefix="item")
    processor = {
        "StartAt": "Item",
        "States": {"Item": {"Type": "Task", "Resource": fn["FunctionArn"], "End": True}},
    }
    # WHEN 1,500 items run through one worker
    described, seconds = _run_map(cloud, processor, 1500)
    # THEN every item was doubled by the handler
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [{"value": 2 * i} for i in range(1500)]
    print(f"Map of 1,500 Lambda items: {seconds:.1f} s")
