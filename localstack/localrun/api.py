"""`chalice local` as `make run`, the HTTP tests and the benchmarks serve the API: one process on a
127.0.0.1 port with a stack's environment, started and waited for in one place."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx

from chalicelib.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalApi:
    """`LocalApi(env).start()` -> serving on `.url`; `.stop()` ends it (terminate, then kill)."""

    def __init__(self, env: dict[str, str], *, port: int = 0, quiet: bool = True) -> None:
        self.env = {
            **os.environ,
            **env,
            "PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT), str(PROJECT_ROOT / "localstack")]),
        }
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.quiet = quiet
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> LocalApi:
        # `chalice local`, with unknown paths answered in the project's error shape (localrun.gateway).
        command = [sys.executable, "-m", "localrun.chalice_local", "local", "--stage", "local"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        output = subprocess.DEVNULL if self.quiet else None
        self.process = subprocess.Popen(
            [*command, "--no-autoreload"], cwd=PROJECT_ROOT, env=self.env, stdout=output, stderr=output
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{self.url}/openapi.json", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chalice local did not come up on {self.url}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None
