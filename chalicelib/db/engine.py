"""Engine and session handling: Postgres through pg8000 when DATABASE_URL is set, else an SQLite file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from chalicelib.settings import get_settings

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_factories: dict[str, sessionmaker[Session]] = {}


def normalize_url(url: str) -> str:
    """Accept `postgres://` and `postgresql://` and always use the pure-Python pg8000 driver."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+pg8000://" + url[len(prefix) :]
    return url


def speed_up_pg8000() -> None:
    """Cache pg8000's placeholder rewriting per statement text.

    pg8000 1.31 rewrites every statement's `%s` placeholders to `$n` with a per-character Python scanner
    (~170 us for a 450-character upsert) on every execute. For the "format" paramstyle SQLAlchemy uses,
    the rewritten text depends only on the statement text and the values pass through unchanged, so
    the result is cached by text. tests/orchestrator/unit/test_pg8000_speedup.py fails if the patch point moves.
    """
    import pg8000.legacy

    original = pg8000.legacy.convert_paramstyle
    if getattr(original, "__wrapped_original__", None) is not None:
        return

    @lru_cache(maxsize=2048)
    def _converted(style: str, query: str) -> str:
        return original(style, query, ())[0]

    def convert_paramstyle(style: str, query: str, args: Any) -> tuple[str, Any]:
        if style == "format":
            return _converted(style, query), args
        return original(style, query, args)

    convert_paramstyle.__wrapped_original__ = original  # type: ignore[attr-defined]
    pg8000.legacy.convert_paramstyle = convert_paramstyle


def _build_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() == "pg8000":
        speed_up_pg8000()
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, pool_size=20)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets readers (the API) run beside the writing steps; the busy timeout waits for the
            # writer lock instead of failing with "database is locked".
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        discard_connections_broken_mid_statement(engine)
        return engine
    # Bounded: Postgres allows 100 connections by default and several processes share it.
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_recycle=300)
    discard_connections_broken_mid_statement(engine)
    return engine


def discard_connections_broken_mid_statement(engine: Engine) -> None:
    """A connection whose driver raised something other than a database error while running a statement
    is thrown away, never handed to the next caller.

    Such an error (pg8000's OverflowError converting a parameter, a bug in the driver) can leave the wire
    protocol half-way: part of the statement sent, its answer unread. The connection then answers the next
    statement with the previous one's rows. `session.rollback()` does not notice and neither does the pool's
    pre-ping; marking the error a disconnect makes SQLAlchemy invalidate this connection (only this one).
    """

    @event.listens_for(engine, "handle_error")
    def _invalidate_on_driver_error(context: Any) -> None:
        dbapi_error = engine.dialect.loaded_dbapi.Error
        if context.is_disconnect or isinstance(context.original_exception, dbapi_error):
            return  # the dialect already decided (a server error leaves the protocol in a known state)
        if isinstance(context.original_exception, Exception):
            context.is_disconnect = True
            context.invalidate_pool_on_disconnect = False


def get_engine(url: str | None = None) -> Engine:
    url = normalize_url(url or get_settings().effective_database_url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = _build_engine(url)
            _factories[url] = sessionmaker(engine, expire_on_commit=False)
        return engine


_UNAVAILABLE_SQLSTATES = ("57P0", "08")


@contextmanager
def database_retryable() -> Iterator[None]:
    """Surface a database restart as `OperationalError`, which the state machines retry.

    Measured with pg8000 while Postgres restarts: besides sqlalchemy's InterfaceError ("network error",
    "can't create a connection"), a bare ConnectionResetError/BrokenPipeError escapes from the pool, and
    the server's "the database system is starting up" (57P03) arrives as ProgrammingError.
    """
    try:
        yield
    except sa_exc.ProgrammingError as exc:
        if not any(code in str(exc.orig) for code in _UNAVAILABLE_SQLSTATES):
            raise
        raise sa_exc.OperationalError(exc.statement, exc.params, exc) from exc
    except ConnectionError as exc:  # ConnectionResetError, BrokenPipeError, ConnectionRefusedError
        raise sa_exc.OperationalError("database connection", None, exc) from exc


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error (never a half-written row).

    A database that is restarting surfaces as OperationalError, so every step's Retry covers it."""
    with database_retryable(), _transaction(url) as session:
        yield session


@contextmanager
def _transaction(url: str | None) -> Iterator[Session]:
    key = normalize_url(url or get_settings().effective_database_url)
    get_engine(key)
    factory = _factories[key]
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _factories.clear()
