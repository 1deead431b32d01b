"""The packaged stack on the local cloud, as a real account would run it: created through CloudFormation
(the SAM template translated offline), IAM enforced with every function running as its own role, the
secrets in Secrets Manager, then a daily run fired from the stack's own rules over the demo tenants, on
real Postgres, Redis and RabbitMQ. And the same stack with one permission taken from one role: the run
fails with AccessDenied.

Each run is `python -m localrun.aws_stack` in its own process (moto's backends and IAM enforcement are
process-wide), on its own database and Redis key prefix; its last stdout line is a JSON summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PG_ADMIN_URL, RABBITMQ_URL, REAL_REDIS_URL, ROOT, bind_event_queue

MADRID = "Europe/Madrid"
AT = "2026-11-30T07:00:00Z"  # 08:00 in Madrid, a Monday


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh database for one stack (the deploy hook migrates it)."""
    import sqlalchemy as sa

    name = f"orchestrator_aws_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    import redis

    prefix = f"orchestrator-aws-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    yield prefix
    client = redis.Redis.from_url(REAL_REDIS_URL)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


def run_stack(package: Path, database: str, redis_prefix: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "localstack")])}
    for name in ("AWS_ENDPOINT_URL", "DATABASE_URL", "REDIS_URL", "RABBITMQ_URL", "MOTO_PORT"):
        env.pop(name, None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "localrun.aws_stack",
            "--package",
            str(package),
            "--database-url",
            database,
            "--redis-url",
            REAL_REDIS_URL,
            "--rabbitmq-url",
            RABBITMQ_URL,
            "--redis-key-prefix",
            redis_prefix,
            "--at",
            AT,
            "--timeout",
            "300",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-3000:]
    return done.returncode, json.loads(lines[-1]), done.stderr


def madrid_tenants() -> set[str]:
    from bakery_sim.tenants import demo_tenants

    return {t["id"] for t in demo_tenants() if t["status"] == "active" and t["timezone"] == MADRID}


def test_the_packaged_stack_runs_a_daily_run_from_its_own_rules_with_every_function_as_its_own_role(
    packaged_stack: Path, database: str, redis_prefix: str
) -> None:
    from bakery_sim.tenants import demo_tenants

    # GIVEN a consumer of the platform's events, and the packaged stack created on the local cloud with IAM on
    connection, queue = bind_event_queue()
    try:
        # WHEN the stack's EventBridge clock fires at 08:00 in Madrid
        code, summary, stderr = run_stack(packaged_stack, database, redis_prefix)
        # THEN the stack was created, its deploy hook having migrated, seeded and made the schedule rules
        assert code == 0, stderr[-3000:]
        assert summary["iam_enforced"] is True
        assert summary["stack_status"] == "CREATE_COMPLETE"
        assert summary["state_machines"] == ["bakery-orchestrator-prod-daily_operations"]
        assert "bakery-orchestrator-prod-outbox-drain" in summary["rules"]
        assert [r for r in summary["rules"] if r.startswith("bakery-orchestrator-prod-sched-daily-operations-")]
        assert len(summary["functions"]) == 15
        # AND the dispatcher, reached through the stack's schedule rule, started the Madrid run
        dispatched = [f for f in summary["firings"] if f["target"] == "dispatch"]
        assert dispatched and all(f["error"] is None for f in dispatched)
        [run] = summary["runs"]
        assert run["outcome"] == "started" and run["sfn_status"] == "SUCCEEDED"
        # AND every active Madrid tenant went through its six steps (the demo set: 13 tenants)
        assert len(demo_tenants()) == 13
        assert run["status"] == "completed"
        assert (run["tenants_processed"], run["tenants_failed"]) == (len(madrid_tenants()), 0)
        assert run["steps_completed"] == 6 * len(madrid_tenants())
        # AND the bridge, running as its own role, published the run's event to RabbitMQ
        channel = connection.channel()
        events = []
        for _ in range(50):
            method, _props, body = channel.basic_get(queue=queue, auto_ack=True)
            if method is None:
                break
            events.append((method.routing_key, json.loads(body)))
        assert [
            key
            for key, payload in events
            if key == "orchestrator.workflow_completed" and payload["execution_id"] == run["execution_id"]
        ]
        # AND the API's function, as its own role: healthy; the console reads the run's graph (history,
        # definition, map run) and tenants (manifest); a retry policy change updates the state machine; a
        # workflow change reconciles the rules; a manual run starts
        api = summary["api"]
        health = api["health"]["body"]
        # (the run was fired for 2026-11-30, so later days' 08:00 may be reported missed: `degraded`)
        assert api["health"]["status"] == 200 and health["status"] in ("healthy", "degraded")
        assert all(c["status"] in ("up", "disabled") for name, c in health["checks"].items() if name != "jobs")
        assert api["health"]["body"]["checks"]["stepfunctions"]["detail"] == "ACTIVE"
        graph, tenants = api["graph"], api["tenants"]
        assert graph["status"] == 200 and graph["body"]["sfn_status"] == "SUCCEEDED" and graph["body"]["history_events"]
        assert tenants["status"] == 200 and len(tenants["body"]["tenants"]) == len(madrid_tenants())
        assert api["retry_policy"]["status"] == 200
        assert api["retry_policy"]["body"]["retry_policy"]["status"] == "updated"
        assert (api["disable"]["status"], api["rules_after_disable"]) == (200, [])
        assert api["enable"]["status"] == 200 and len(api["rules_after_enable"]) == 1
        [manual] = api["execute"]["body"]["runs"]
        assert api["execute"]["status"] == 202 and manual["outcome"] == "started"
        assert (manual["sfn_status"], manual["status"], manual["tenants_processed"]) == ("SUCCEEDED", "completed", 1)
    finally:
        connection.close()


def test_a_role_missing_one_permission_fails_the_run_with_access_denied(
    packaged_stack: Path, database: str, redis_prefix: str
) -> None:
    # GIVEN the same stack, its ListTenants role without s3:PutObject (the manifest it writes)
    # WHEN the clock fires at 08:00 in Madrid
    code, summary, stderr = run_stack(
        packaged_stack, database, redis_prefix, "--without", "ListTenantsRole:s3:PutObject"
    )
    # THEN the stack is created and the run starts (the other roles are intact)
    assert summary["stack_status"] == "CREATE_COMPLETE", stderr[-3000:]
    [run] = summary["runs"]
    assert run["outcome"] == "started"
    # AND the run fails at List tenants with AccessDenied: no tenant ran
    assert code == 1
    assert run["sfn_status"] == "FAILED"
    assert run["status"] == "failed"
    assert "AccessDenied" in run["error_message"] and "PutObject" in run["error_message"]
    assert run["tenants_processed"] == 0 and run["steps_completed"] == 0
