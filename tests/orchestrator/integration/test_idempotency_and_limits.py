"""On the real Redis: the step result cache keeps results for 24 h, and the per-service semaphore never
lets more calls than its limit into one service at once."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
import redis

from chalicelib.adapters.platform import ServiceSemaphore, parse_limits
from chalicelib.adapters.step_cache import StepKey, StepResultCache, run_once
from chalicelib.settings import Settings


@pytest.fixture()
def client(real_redis_url: str) -> Any:
    connection = redis.Redis.from_url(real_redis_url)
    yield connection
    connection.close()


def test_step_result_is_cached_for_a_day_and_replayed(client: Any) -> None:
    # GIVEN a step key and a cache on the real Redis
    prefix = f"itest-idem-{uuid.uuid4().hex[:8]}"
    cache = StepResultCache(client=client, prefix=prefix)
    key = StepKey(str(uuid.uuid4()), "tenant-1", "generate_forecasts")
    calls: list[int] = []

    def work() -> tuple[dict[str, Any], str]:
        calls.append(1)
        return {"forecast_id": "f-1"}, "forecast done"

    try:
        # WHEN the step runs twice
        first, replayed_first = run_once(key, work, cache=cache)
        second, replayed_second = run_once(key, work, cache=cache)
        # THEN the work ran once, the second answer is the cached one, kept for 24 h
        assert calls == [1] and (replayed_first, replayed_second) == (False, True)
        assert second == first and second.summary == {"forecast_id": "f-1"}
        assert 86_000 < client.ttl(cache.result_key(key)) <= 86_400
        assert not client.exists(cache.marker_key(key))
    finally:
        for found in client.scan_iter(match=f"{prefix}:*"):
            client.delete(found)


def test_service_semaphore_bounds_concurrent_calls(client: Any) -> None:
    # GIVEN a limit of 3 concurrent forecasting calls and 12 callers at once
    settings = Settings(
        redis_key_prefix=f"itest-sem-{uuid.uuid4().hex[:8]}",
        platform_timeout_seconds=10,
        platform_concurrency_limits="forecasting=3",
    )
    semaphore = ServiceSemaphore(settings=settings, client=client)
    in_flight, peak, lock = 0, 0, threading.Lock()
    barrier = threading.Barrier(12)

    def call() -> None:
        nonlocal in_flight, peak
        barrier.wait()
        with semaphore.slot("forecasting"):
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            time.sleep(0.05)  # the simulated call's duration, so that callers overlap
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=call) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # THEN at most 3 were inside at any moment, and the limit was used
    assert peak == 3
    assert semaphore.limit("forecasting") == 3 and semaphore.limit("production") == 50


def test_bad_concurrency_limits_name_the_setting() -> None:
    # GIVEN / WHEN / THEN a malformed entry is refused with the setting's name
    with pytest.raises(ValueError, match="PLATFORM_CONCURRENCY_LIMITS"):
        parse_limits("forecasting=ten")
