"""Shared fixtures. Real Postgres/Redis for integration tests: the machine's own services (started by
`make test` through localstack/ensure-services.sh), never mocks."""

from __future__ import annotations

import logging
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
for path in (str(ROOT), str(ROOT / "localstack")):
    if path not in sys.path:
        sys.path.insert(0, path)

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

from localrun.gateway import install as _shape_local_gateway  # noqa: E402 - needs the path above

_shape_local_gateway()  # chalice.test.Client answers unknown paths as `chalice local` does (localrun.gateway)
logging.getLogger("werkzeug").setLevel(logging.ERROR)

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+pg8000://postgres@127.0.0.1:5432/postgres")
# Per-session names: several test sessions may share this machine's services at once.
PG_TEST_DB = os.environ.get("TEST_PG_DATABASE", f"orchestrator_test_{os.getpid()}")
REAL_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
os.environ.setdefault("REDIS_KEY_PREFIX", f"orchestrator-test-{os.getpid()}")
# The test stacks run on stages of their own (ftest, itest, chaos), which need a real secret: one per
# session, set before any token is minted so every process of the session shares it.
os.environ.setdefault("JWT_SECRET", f"test-session-{secrets.token_hex(24)}")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh Postgres database for this test session."""
    import sqlalchemy as sa

    admin = sa.create_engine(
        PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True
    )  # survives the chaos restart
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_TEST_DB}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{PG_TEST_DB}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_TEST_DB}"
    from chalicelib.db.engine import dispose_engines

    dispose_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{PG_TEST_DB}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def real_redis_url() -> Iterator[str]:
    """Real Redis; this session's keys carry its own prefix (REDIS_KEY_PREFIX) and are removed after."""
    import redis

    yield REAL_REDIS_URL
    client = redis.Redis.from_url(REAL_REDIS_URL)
    for key in client.scan_iter(match=f"{os.environ['REDIS_KEY_PREFIX']}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def set_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`set_env(name, value)`: change an environment variable for this test; the product forgets what it
    built from the old value (settings, clients), and again when the test ends."""
    from chalicelib.runtime import reset

    def set_(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        reset()

    yield set_
    monkeypatch.undo()
    reset()


def bind_event_queue(*, durable: bool = False) -> tuple[Any, str]:
    """A consumer queue bound to every orchestrator event on the real broker: (connection, queue name).

    Exclusive by default; durable survives a broker restart (the RabbitMQ-outage fault).
    """
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL))
    channel = connection.channel()
    channel.exchange_declare(exchange="orchestrator", exchange_type="topic", durable=True)
    queue = channel.queue_declare(queue="", exclusive=not durable, durable=durable).method.queue
    channel.queue_bind(queue=queue, exchange="orchestrator", routing_key="orchestrator.#")
    return connection, queue


@pytest.fixture(scope="session")
def packaged_stack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `make package` writes (merge template + `chalice package --stage prod`): sam.json and
    deployment.zip, built once per session, offline."""
    import shutil
    import subprocess

    out = tmp_path_factory.mktemp("package")
    env = {
        **os.environ,
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "localstack")]),
    }
    merge = out / "merge-template.json"
    subprocess.run([sys.executable, "-m", "infra.template", str(merge), "prod"], cwd=ROOT, env=env, check=True)
    chalice = shutil.which("chalice", path=str(Path(sys.executable).parent))
    assert chalice is not None
    done = subprocess.run(
        [chalice, "package", "--stage", "prod", "--merge-template", str(merge), str(out / "package")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return out / "package"
