"""`make run`'s local cloud port: LOCALCLOUD_PORT (default 4566), refused clearly when taken or malformed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from chalicelib.settings import PROJECT_ROOT


def test_the_port_comes_from_the_option_then_localcloud_port_then_4566(monkeypatch: pytest.MonkeyPatch) -> None:
    from localrun.__main__ import cloud_port

    monkeypatch.delenv("LOCALCLOUD_PORT", raising=False)
    assert cloud_port(None) == 4566
    monkeypatch.setenv("LOCALCLOUD_PORT", "4570")
    assert cloud_port(None) == 4570
    assert cloud_port(0) == 0


def run_localrun(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(PROJECT_ROOT), str(PROJECT_ROOT / "localstack")])
    return subprocess.run(
        [sys.executable, "-m", "localrun", "--once", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": path, **(env or {})},
    )


def test_a_taken_or_malformed_port_is_refused_before_anything_starts() -> None:
    # GIVEN a port something else listens on
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        # WHEN make run is asked to put the local cloud there
        result = run_localrun("--cloud-port", str(taken))
    # THEN it stops at once, naming the port and the variable to change
    assert result.returncode == 2
    assert f"Port {taken} on 127.0.0.1 is taken" in result.stderr and "LOCALCLOUD_PORT" in result.stderr
    # AND a port that is not a number is a usage error naming the variable
    bad = run_localrun(env={"LOCALCLOUD_PORT": "abc"})
    assert bad.returncode == 2 and "LOCALCLOUD_PORT: expected a port number" in bad.stderr
