"""End-to-end: Debian's Chromium, headless, driven by Playwright for Python, against `chalice local` serving
the console after real runs on the local cloud (real Postgres, Redis and RabbitMQ).

`make test` installs Chromium with apt when /usr/bin/chromium is missing (localstack/ensure-services.sh);
Playwright's own browser downloads are never used. Screenshots of each view go to CONSOLE_SCREENSHOTS
(default .local/console-screenshots, git-ignored); the folder is printed at the end of the run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RABBITMQ_URL

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(
    os.environ.get("CONSOLE_SCREENSHOTS") or Path(__file__).resolve().parents[3] / ".local" / "console-screenshots"
)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.iterdir()):
        terminalreporter.write_line(f"console screenshots: {SCREENSHOTS}")


@pytest.fixture(scope="session")
def screenshots() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="package")
def e2e_stack(pg_url: str, real_redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from bakery_sim.tenants import demo_tenants
    from localrun.stack import Stack

    with Stack(
        database_url=pg_url,
        redis_url=real_redis_url,
        rabbitmq_url=RABBITMQ_URL,
        tenants=demo_tenants(),
        data_dir=tmp_path_factory.mktemp("e2e-stack"),
        stage="e2e",
    ) as running:
        yield running


@pytest.fixture(scope="package")
def console_url(e2e_stack: Any) -> Iterator[str]:
    """`chalice local` on a free port with the stack's environment; the console is at <url>/console."""
    from localrun.api import LocalApi

    api = LocalApi(e2e_stack.env).start()
    try:
        yield api.url
    finally:
        api.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (localstack/ensure-services.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()
