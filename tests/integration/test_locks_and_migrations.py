"""Run locks on real Redis; migrations up and down on real Postgres."""

from __future__ import annotations

import uuid

import redis
import sqlalchemy as sa

from chalicelib.adapters.locks import RunLocks
from chalicelib.db.migrate import downgrade, upgrade


def test_lock_is_exclusive_released_by_token_only_and_fenced(real_redis_url: str) -> None:
    # GIVEN a lock on real Redis
    locks = RunLocks(client=redis.Redis.from_url(real_redis_url), prefix=f"test-{uuid.uuid4()}")
    key = locks.key("daily_operations", "Europe/Madrid")
    first = locks.acquire(key, "run-a", ttl_seconds=30)
    assert first is not None
    # WHEN another token tries to take it or release it
    assert locks.acquire(key, "run-b", ttl_seconds=30) is None
    assert locks.release(key, "run-b") is False
    # THEN the holder keeps it; the same token re-acquires (a redelivery) with the same fence
    again = locks.acquire(key, "run-a", ttl_seconds=30)
    assert again is not None and again.fencing_token == first.fencing_token
    assert locks.release(key, "run-a") is True
    # AND the next holder gets a strictly greater fencing token
    second = locks.acquire(key, "run-b", ttl_seconds=30)
    assert second is not None and second.fencing_token > first.fencing_token


def test_migrations_go_down_and_up_on_postgres(pg_url: str) -> None:
    # GIVEN a separate schema-less database
    admin = sa.create_engine(pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    name = "orchestrator_migrations_test"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = pg_url.rsplit("/", 1)[0] + f"/{name}"
    # WHEN migrated up, down and up again
    upgrade(url)
    downgrade(url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        left = set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
    assert left == set()
    upgrade(url)
    # THEN every table is there
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
    engine.dispose()
    assert {"orchestrator_workflows", "orchestrator_executions", "orchestrator_execution_logs",
            "orchestrator_leader", "orchestrator_metrics", "orchestrator_outbox",
            "orchestrator_step_runs"} <= tables
    from chalicelib.db.engine import dispose_engines

    dispose_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_models_and_migrations_agree_on_postgres(pg_url: str) -> None:
    # GIVEN the database migrated to every head (the pg_url fixture's database, migrated by the stacks)
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from chalicelib.db.models import Base

    upgrade(pg_url)
    engine = sa.create_engine(pg_url)
    # WHEN alembic compares the SQLAlchemy models with the migrated schema
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    # THEN there is nothing a new migration would have to add
    assert differences == []
