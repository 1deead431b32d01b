"""The local cloud: a patched, in-process moto server with Step Functions execution."""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.request
from typing import Any

import boto3

from localcloud import patches

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

_running: list[LocalCloud] = []
_running_lock = threading.Lock()


class LocalCloud:
    """moto in server mode on a background thread of this process.

    moto's backends are process-global, so two LocalCloud instances in one process
    share all resources; use unique resource names per test.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "eu-west-1",
        *,
        quiet_http_log: bool = True,
    ):
        self.host = host
        self.quiet_http_log = quiet_http_log
        self.port = port
        self.region = region
        self._server: Any = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalCloud is not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalCloud:
        if self._server is not None:
            return self
        patches.apply()
        if self.quiet_http_log:
            # werkzeug logs one INFO line per request; Step Functions runs make thousands.
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        from moto.server import ThreadedMotoServer

        # Port 0 lets the OS pick a free port (no probe-then-bind race); the real one
        # is read back afterwards.
        server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        server.start()
        self.port = server.get_host_and_port()[1]
        self._server = server
        # The Step Functions interpreter calls Lambda at http://localhost:$MOTO_PORT
        # (read at call time), so this must name our server.
        os.environ["MOTO_PORT"] = str(self.port)
        with _running_lock:
            _running.append(self)
        for key, value in {
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
        }.items():
            os.environ.setdefault(key, value)
        # Must precede any CreateStateMachine: moto decides per state machine whether
        # executions are interpreted.
        self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stop()
        self._server = None
        self._clients.clear()
        # Instances share moto's state but MOTO_PORT is one value: if it named this
        # server, hand it to another running instance so its executions keep working.
        with _running_lock:
            _running.remove(self)
            if os.environ.get("MOTO_PORT") == str(self.port) and _running:
                os.environ["MOTO_PORT"] = str(_running[-1].port)

    def reset(self) -> None:
        """Drop every resource in every moto backend (config survives)."""
        self._post("/moto-api/reset", None)

    def _post(self, path: str, body: dict[str, Any] | None) -> None:
        data = json.dumps(body).encode("utf-8") if body is not None else b""
        request = urllib.request.Request(
            self.endpoint_url + path,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()

    def env(self) -> dict[str, str]:
        """Variables that point boto3 in product code at this emulator."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            **FAKE_CREDENTIALS,
        }

    def client(self, service: str) -> Any:
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(
                    service,
                    endpoint_url=self.endpoint_url,
                    region_name=self.region,
                    aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                )
            return self._clients[service]

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
