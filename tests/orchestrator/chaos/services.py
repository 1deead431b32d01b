"""Stopping and starting the machine's own services with its own commands (../shared/DESIGN.md §6).

Every stop is paired with a start in a `finally`, and a start waits until the service answers again, so
the machine is left as it was found even when a test fails."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

POSTGRES_VERSION = sorted(os.listdir("/etc/postgresql"))[-1] if Path("/etc/postgresql").is_dir() else "15"
PG_START = ["pg_ctlcluster", "--skip-systemctl-redirect", POSTGRES_VERSION, "main", "start"]
PG_STOP = ["pg_ctlcluster", "--skip-systemctl-redirect", POSTGRES_VERSION, "main", "stop"]
RABBIT_START = ["rabbitmq-server", "-detached"]
RABBIT_STOP = ["rabbitmqctl", "stop"]


def _run(command: list[str]) -> None:
    subprocess.run(command, check=False, capture_output=True, timeout=120)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_until(predicate, *, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    delay = 0.1
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)


def postgres_ready() -> bool:
    result = subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432"], check=False, capture_output=True)
    return result.returncode == 0


def rabbitmq_ready(url: str) -> bool:
    import pika

    try:
        pika.BlockingConnection(pika.URLParameters(url)).close()
        return True
    except Exception:  # noqa: BLE001 - not up yet
        return False


def start_postgres() -> None:
    if not postgres_ready():
        _run(PG_START)
    wait_until(postgres_ready, timeout=90, what="PostgreSQL accepting connections")


def stop_postgres() -> None:
    _run(PG_STOP)
    wait_until(lambda: not port_open(5432), timeout=60, what="PostgreSQL stopped")


def start_rabbitmq(url: str) -> None:
    if not rabbitmq_ready(url):
        _run(RABBIT_START)
    wait_until(lambda: rabbitmq_ready(url), timeout=120, what="RabbitMQ accepting connections")


def stop_rabbitmq() -> None:
    _run(RABBIT_STOP)
    wait_until(lambda: not port_open(5672), timeout=60, what="RabbitMQ stopped")


@contextmanager
def rabbitmq_stopped(url: str) -> Iterator[None]:
    """RabbitMQ is down inside the block; started again (and answering) after it, whatever happened."""
    try:
        stop_rabbitmq()
        yield
    finally:
        start_rabbitmq(url)
