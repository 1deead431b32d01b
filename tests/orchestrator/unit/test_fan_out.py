"""`adapters.platform.fan_out`: the concurrent reads behind the enterprise views, with plain callables."""

from __future__ import annotations

import threading
import time

from chalicelib.adapters.platform import fan_out
from chalicelib.errors import PermanentServiceError, TransientServiceError


def test_no_more_calls_than_the_bound_are_in_flight() -> None:
    # GIVEN 40 calls that each take a moment, counting how many run at once
    lock = threading.Lock()
    in_flight = peak = 0

    def call(n: int) -> int:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.005)  # the call's own work
        with lock:
            in_flight -= 1
        return n * n

    # WHEN they fan out with at most 4 in flight
    results = fan_out({n: (lambda n=n: call(n)) for n in range(40)}, max_concurrency=4, deadline_seconds=60)
    # THEN every answer is there and never more than 4 ran at once
    assert {n: r.value for n, r in results.items()} == {n: n * n for n in range(40)}
    assert all(r.ok for r in results.values()) and 1 <= peak <= 4


def test_each_failure_stays_its_own() -> None:
    def fails(exc: Exception) -> None:
        raise exc

    results = fan_out(
        {
            "fine": lambda: "ok",
            "down": lambda: fails(TransientServiceError("sales service answered 503 to GET /x")),
            "refused": lambda: fails(PermanentServiceError("sales service answered 422 to GET /x")),
            "bug": lambda: fails(KeyError("tenant_id")),
        },
        max_concurrency=2,
        deadline_seconds=60,
    )
    assert results["fine"].value == "ok" and results["fine"].ok
    assert results["down"].error == "sales service answered 503 to GET /x"
    assert results["refused"].error == "sales service answered 422 to GET /x"
    assert results["bug"].error == "KeyError: 'tenant_id'" and results["bug"].value is None


def test_a_call_not_answered_by_the_deadline_is_reported_and_not_waited_for() -> None:
    # GIVEN one call that blocks until released, and one quick call
    release = threading.Event()
    try:
        results = fan_out(
            {"stuck": lambda: release.wait(30), "quick": lambda: 1}, max_concurrency=2, deadline_seconds=0.2
        )
    finally:
        release.set()
    # THEN the quick answer is kept and the stuck one is reported as past the deadline
    assert results["quick"].value == 1
    assert results["stuck"].error == "no answer within the 0.2 s deadline"


def test_nothing_to_fetch_is_nothing_fetched() -> None:
    assert fan_out({}, max_concurrency=3, deadline_seconds=1) == {}
