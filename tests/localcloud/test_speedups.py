"""The emulator's speed patches change nothing an execution does or records (Retry, Catch, both kinds
of timeout, Parallel, Map). Their patch points are checked with all the others in test_localcloud_patches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _probe(speedups: str) -> dict[str, object]:
    env = {
        **os.environ,
        "LOCALCLOUD_SPEEDUPS": speedups,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "localstack")]),
    }
    for key in ("AWS_ENDPOINT_URL", "MOTO_PORT"):
        env.pop(key, None)
    done = subprocess.run(
        [sys.executable, "-m", "tests.localcloud.handlers.speedup_probe"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_histories_are_identical_with_and_without_the_speed_patches() -> None:
    # GIVEN the same state machines and inputs on a patched and on a stock-speed local cloud
    # WHEN both run them
    patched, stock = _probe("1"), _probe("0")
    # THEN every execution ends the same way with the same sequence of events
    assert (
        set(patched)
        == set(stock)
        == {"retry_then_succeed", "catch_fatal", "states_timeout", "lambda_timeout", "parallel_and_map"}
    )
    for name in patched:
        if name == "parallel_and_map":
            # two branches run concurrently: their events interleave differently from run to run
            patched[name]["history"] = sorted(patched[name]["history"], key=json.dumps)
            stock[name]["history"] = sorted(stock[name]["history"], key=json.dumps)
        assert patched[name] == stock[name], name
    # AND the behaviours under test really happened
    assert patched["retry_then_succeed"]["status"] == "SUCCEEDED"
    assert [e[2] for e in patched["retry_then_succeed"]["history"] if e[0] == "LambdaFunctionFailed"] == [
        "FlakyError",
        "FlakyError",
    ]
    assert any(e[2] == "States.Timeout" for e in patched["states_timeout"]["history"])
    assert any(e[2] == "Sandbox.Timedout" for e in patched["lambda_timeout"]["history"])
    assert '"caught"' in (patched["catch_fatal"]["output"] or "")
