"""The local stack used by `make run`, the tests and the benchmarks (one way to set everything up)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bakery_sim.server import SimulatorServer
from chalicelib.db import runs, steps
from chalicelib.db.engine import session_scope
from chalicelib.db.migrate import upgrade
from chalicelib.db.workflows import ensure_default_workflows, get_workflow
from chalicelib.runtime import reset
from chalicelib.settings import PROJECT_ROOT
from infra import resources
from infra.deploy import Deployment, deploy, placeholder_code
from infra.resources import APP_NAME
from localcloud.clock import EventBridgeClock, Firing
from localcloud.compat import adapt_definition
from localcloud.lambda_runner import ENV_CHANGE_HOOK
from localcloud.server import LocalCloud

DEFAULT_DATA_DIR = PROJECT_ROOT / ".local"
TERMINAL_SFN = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A Redis-protocol server in a thread (fakeredis), shared by every process of the local stack."""

    def __init__(self, port: int = 0) -> None:
        from fakeredis import TcpFakeServer

        self._server = TcpFakeServer(("127.0.0.1", port or _free_port()), server_type="redis")
        self._server.daemon_threads = True
        self.url = f"redis://127.0.0.1:{self._server.server_address[1]}/0"
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-redis", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@dataclass
class RunResult:
    execution_name: str
    sfn_status: str
    summary: dict[str, Any]
    duration_seconds: float


class Stack:
    def __init__(
        self,
        *,
        database_url: str | None = None,
        redis_url: str | None = None,
        rabbitmq_url: str | None = None,
        tenants: list[dict[str, Any]] | None = None,
        data_dir: Path = DEFAULT_DATA_DIR,
        stage: str = "local",
        extra_env: dict[str, str] | None = None,
        simulator_url: str | None = None,
        cloud_port: int = 0,
    ) -> None:
        self.data_dir = data_dir
        self.database_url = database_url or f"sqlite:///{data_dir / 'orchestrator.db'}"
        self.redis_url = redis_url
        self.rabbitmq_url = rabbitmq_url or ""
        self.stage = stage
        self._tenants = tenants
        self._extra_env = extra_env or {}
        # An external simulator (its own process, e.g. for benchmarks: it then doesn't share our GIL).
        self.simulator_url = simulator_url
        # The local cloud's port: 0 picks a free one (tests); `make run` fixes it (LOCALCLOUD_PORT) so the
        # AWS CLI and SDKs can be pointed at it.
        self.cloud_port = cloud_port
        self.embedded_redis: EmbeddedRedis | None = None
        self.simulator: SimulatorServer | None = None
        self.cloud: LocalCloud | None = None
        self.deployment: Deployment | None = None
        self.clock: EventBridgeClock | None = None
        self.env: dict[str, str] = {}
        self._saved_environ: dict[str, str] | None = None

    def _apply_environ(self, values: dict[str, str]) -> None:
        if self._saved_environ is None:
            self._saved_environ = dict(os.environ)
        os.environ.update(values)
        # The Lambda runner calls this when a function's environment differs from the process's.
        os.environ[ENV_CHANGE_HOOK] = "chalicelib.runtime:reset"
        reset()

    def start(self) -> Stack:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if not self.redis_url:
            self.embedded_redis = EmbeddedRedis()
            self.redis_url = self.embedded_redis.url
        if self.simulator_url:
            import httpx

            if self._tenants is not None:
                httpx.put(
                    f"{self.simulator_url}/sim/tenants", json={"tenants": self._tenants}, timeout=60
                ).raise_for_status()
            platform_url = self.simulator_url
        else:
            self.simulator = SimulatorServer(tenants=self._tenants).start()
            platform_url = self.simulator.url
        self.cloud = LocalCloud(port=self.cloud_port).start()
        # Every stack runs with the `local` stage's settings (Map concurrency, fast retries), whatever its
        # own stage name (which only keeps its resource names apart).
        local_stage = {k: v for k, v in resources.functions("local")[0].environment.items() if k != "STAGE"}
        self.env = {
            **local_stage,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "RABBITMQ_URL": self.rabbitmq_url,
            "PLATFORM_BASE_URL": platform_url,
            "EVENT_LOG_PATH": str(self.data_dir / "events.jsonl"),
            "STAGE": self.stage,
            "POWERTOOLS_METRICS_DISABLED": "true",  # no EMF lines among the local run's output
            **self.cloud.env(),
            **self._extra_env,
        }
        self._apply_environ(self.env)
        upgrade(self.database_url)
        with session_scope() as session:
            ensure_default_workflows(session)
        clients = {name: self.cloud.client(name) for name in ("lambda", "stepfunctions", "events", "iam", "s3")}
        self.deployment = deploy(
            clients,
            code=placeholder_code(),  # the local cloud runs the handlers from this tree
            stage=self.stage,
            environment=self.env,
            adapt_definition=adapt_definition,
        )
        self.env.update(self.deployment.environment())
        self._apply_environ(self.deployment.environment())
        self.clock = EventBridgeClock(
            self.cloud.client("events"), self.cloud.client("lambda"), name_prefix=f"{APP_NAME}-{self.stage}-"
        )
        return self

    def stop(self) -> None:
        """Stop what this stack started, forget its cloud resources and restore the environment."""
        if self.cloud is not None:
            self.cloud.reset()  # moto's backends are process-wide: leave nothing for the next stack
        for part in (self.simulator, self.cloud, self.embedded_redis):
            if part is not None:
                part.stop()
        if self._saved_environ is not None:
            os.environ.clear()
            os.environ.update(self._saved_environ)
            self._saved_environ = None
        reset()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- driving runs ---------------------------------------------------------------------------------
    def set_holiday_policy(self, workflow_name: str, policy: str) -> None:
        """What an operator's PUT /workflows/{name} with a holiday_policy does (no rule changes with it)."""
        from chalicelib.domain.workflows import validate_definition

        validate_definition({"holiday_policy": policy})
        with session_scope() as session:
            workflow = get_workflow(session, workflow_name)
            if workflow is None:
                raise ValueError(f"workflow {workflow_name!r} is not seeded")
            workflow.holiday_policy = policy

    def fire(self, at: datetime) -> list[Firing]:
        assert self.clock is not None
        return self.clock.fire(at)

    def dispatches(self, firings: list[Firing]) -> list[dict[str, Any]]:
        """The dispatcher's answers among the firings (what ran, what was not due)."""
        return [
            f.response_payload for f in firings if f.target_id == "dispatch" and isinstance(f.response_payload, dict)
        ]

    def drain_outbox(self) -> dict[str, Any]:
        """Invoke the bridge once, as the periodic rule would."""
        assert self.cloud is not None and self.deployment is not None
        response = self.cloud.client("lambda").invoke(
            FunctionName=self.deployment.function_arns["publish_events"], Payload=b'{"source": "local-run"}'
        )
        return json.loads(response["Payload"].read() or b"null")

    def execution_arn(self, execution_name: str, workflow: str = "daily_operations") -> str:
        assert self.deployment is not None
        machine = self.deployment.state_machine_arns[workflow]
        return machine.replace(":stateMachine:", ":execution:") + f":{execution_name}"

    def wait(
        self,
        execution_name: str,
        *,
        timeout: float = 600,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        poll: float = 0.25,
    ) -> RunResult:
        """Poll the execution until it ends; report progress read from the database meanwhile."""
        assert self.cloud is not None
        sfn = self.cloud.client("stepfunctions")
        arn = self.execution_arn(execution_name)
        started = time.monotonic()
        deadline = started + timeout
        while True:
            description = sfn.describe_execution(executionArn=arn)
            status = description["status"]
            if on_progress is not None:
                on_progress(self.progress(execution_name))
            if status in TERMINAL_SFN:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {execution_name} still {status} after {timeout:.0f} s")
            time.sleep(poll)
        return RunResult(execution_name, status, self.summary(execution_name), time.monotonic() - started)

    def history(self, execution_name: str, workflow: str = "daily_operations") -> list[dict[str, Any]]:
        """The execution's events followed by those of its Distributed Map children (through the API)."""
        assert self.cloud is not None
        sfn = self.cloud.client("stepfunctions")
        arn = self.execution_arn(execution_name, workflow)
        events = list(sfn.get_execution_history(executionArn=arn)["events"])
        for run in sfn.list_map_runs(executionArn=arn)["mapRuns"]:
            for child in sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]:
                events.extend(sfn.get_execution_history(executionArn=child["executionArn"])["events"])
        return events

    def progress(self, execution_name: str) -> dict[str, Any]:
        with session_scope() as session:
            execution = runs.get_execution_by_name(session, execution_name)
            if execution is None:
                return {
                    "status": "starting",
                    "tenants_total": 0,
                    "tenants_processed": 0,
                    "tenants_failed": 0,
                    "steps_total": 0,
                    "steps_completed": 0,
                    "steps_failed": 0,
                }
            live = steps.progress(session, str(execution.id))
            return {
                "status": execution.status,
                "tenants_total": execution.tenants_total,
                "steps_total": execution.steps_total,
                **live,
            }

    def summary(self, execution_name: str) -> dict[str, Any]:
        with session_scope() as session:
            execution = runs.get_execution_by_name(session, execution_name)
            if execution is None:
                return {"execution_name": execution_name, "status": "not_recorded"}
            return runs.execution_summary(execution)
