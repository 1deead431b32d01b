"""The local stack on the real services: Postgres, Redis and RabbitMQ on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import RABBITMQ_URL


@pytest.fixture(scope="package")
def pg_stack(pg_url: str, real_redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from bakery_sim.tenants import demo_tenants
    from localrun.stack import Stack

    with Stack(
        database_url=pg_url,
        redis_url=real_redis_url,
        rabbitmq_url=RABBITMQ_URL,
        tenants=demo_tenants(),
        data_dir=tmp_path_factory.mktemp("pg-stack"),
        stage="itest",
    ) as running:
        yield running
