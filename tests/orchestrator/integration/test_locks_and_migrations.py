"""Run locks on real Redis; migrations (one line, one head) up and down on real Postgres and on SQLite,
through `chalicelib.db.migrate` and through the `alembic` command line."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from chalicelib.adapters.locks import RunLocks
from chalicelib.db.engine import dispose_engines
from chalicelib.db.migrate import alembic_config, downgrade, upgrade
from chalicelib.db.models import Base
from tests.conftest import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parents[3]
ALEMBIC_INI = ROOT / "alembic.ini"
CORE_TABLES = {
    "orchestrator_workflows",
    "orchestrator_executions",
    "orchestrator_execution_logs",
    "orchestrator_leader",
    "orchestrator_metrics",
    "orchestrator_outbox",
    "orchestrator_step_runs",
}


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


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    """An empty Postgres database named after this test session's pid, dropped afterwards."""
    name = f"orchestrator_migrations_{os.getpid()}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["postgres", "sqlite"])
def fresh_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind the project runs on: a fresh Postgres database, a new SQLite file."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'orchestrator.db'}"
        dispose_engines()
    else:
        yield request.getfixturevalue("fresh_postgres")


def tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def model_differences(url: str) -> list[object]:
    """What `alembic revision --autogenerate` would put in a new migration for this database."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata))
    finally:
        engine.dispose()


def run_alembic(*args: str, database_url: str) -> str:
    """`alembic <args>` from the repository root, as an operator runs it: DATABASE_URL set, no PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DATABASE_URL")}
    env["DATABASE_URL"] = database_url
    done = subprocess.run(
        [sys.executable, "-m", "alembic", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"alembic {' '.join(args)}: {done.stderr[-3000:]}"
    return done.stdout


def as_operator_writes_it(url: str) -> str:
    """`postgresql+pg8000://...` -> `postgres://...`: the CLI must normalize it as the application does."""
    return url.replace("postgresql+pg8000://", "postgres://", 1)


def test_migrations_form_one_line_with_a_single_head() -> None:
    # GIVEN the revisions as the command line (alembic.ini) and the programmatic path see them
    from_cli = ScriptDirectory.from_config(Config(str(ALEMBIC_INI)))
    from_code = ScriptDirectory.from_config(alembic_config("sqlite://"))
    # THEN both read the same directory, which has exactly one head
    assert Path(from_cli.dir).resolve() == Path(from_code.dir).resolve()
    assert len(from_cli.get_heads()) == 1
    # AND walking from the head, each revision's parent is the next one down: a single line to the base
    revisions = list(from_cli.walk_revisions())
    assert [r.down_revision for r in revisions[:-1]] == [r.revision for r in revisions[1:]]
    assert revisions[-1].down_revision is None
    assert not any(r.is_merge_point or r.is_branch_point for r in revisions)


def test_alembic_command_line_upgrades_reports_and_goes_down(fresh_database: str) -> None:
    # GIVEN an empty database, its URL written the way an operator writes DATABASE_URL
    url = as_operator_writes_it(fresh_database)
    script = ScriptDirectory.from_config(Config(str(ALEMBIC_INI)))
    head = script.get_current_head()
    # WHEN `alembic upgrade head` runs from the repository root
    run_alembic("upgrade", "head", database_url=url)
    # THEN `alembic current` shows the head and `alembic history` lists every step of the line
    assert f"{head} (head)" in run_alembic("current", database_url=url)
    history = run_alembic("history", database_url=url)
    for revision in script.walk_revisions():
        assert f"{revision.down_revision or '<base>'} -> {revision.revision}" in history
    # AND the migrated schema is exactly what the models describe
    assert tables(fresh_database) >= CORE_TABLES
    assert model_differences(fresh_database) == []
    # AND down to the base leaves only the version table, and up again restores the head
    run_alembic("downgrade", "base", database_url=url)
    assert tables(fresh_database) == {"alembic_version"}
    run_alembic("upgrade", "head", database_url=url)
    assert model_differences(fresh_database) == []


def test_alembic_command_line_prefers_an_explicit_url_to_database_url(tmp_path: Path) -> None:
    # GIVEN DATABASE_URL naming a server that does not answer, and an explicit `-x database_url=...`
    target = tmp_path / "explicit.db"
    unreachable = "postgres://nobody@127.0.0.1:1/none"
    # WHEN alembic upgrades
    run_alembic("-x", f"database_url=sqlite:///{target}", "upgrade", "head", database_url=unreachable)
    # THEN the explicit database was migrated
    assert tables(f"sqlite:///{target}") >= CORE_TABLES


def test_migrations_go_down_and_up_through_the_programmatic_path(fresh_database: str) -> None:
    # GIVEN an empty database
    url = fresh_database
    # WHEN migrated up, down and up again by chalicelib.db.migrate (the local stack's and tests' path)
    upgrade(url)
    downgrade(url)
    assert tables(url) - {"alembic_version"} == set()
    upgrade(url)
    # THEN every table is there and the schema matches the models
    assert tables(url) >= CORE_TABLES
    assert model_differences(url) == []


def test_models_and_migrations_agree_on_postgres(pg_url: str) -> None:
    # GIVEN the session's database (shared with the stacks) migrated to the head
    upgrade(pg_url)
    # WHEN alembic compares the SQLAlchemy models with the migrated schema
    differences = model_differences(pg_url)
    # THEN there is nothing a new migration would have to add
    assert differences == []
