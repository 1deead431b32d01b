"""The hostile-input suite on Postgres (Redis, RabbitMQ real): every route x every role x the catalogue of
bad values (tests/orchestrator/hostile.py) in process, each followed by a normal request; and a sample over
HTTP through `chalice local`, where Chalice's own answers (unknown path, method, media type) must have the
project's shape too."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.orchestrator import hostile
from tests.orchestrator.api import Api, assert_error_shape, in_process, token_for


@pytest.fixture(scope="module")
def api(pg_stack: Any) -> Iterator[Api]:
    with in_process() as client:
        yield client


@pytest.fixture(scope="module")
def http(pg_stack: Any) -> Iterator[Api]:
    from localrun.api import LocalApi

    server = LocalApi(pg_stack.env).start()
    try:
        yield Api(base_url=server.url)
    finally:
        server.stop()


@pytest.mark.parametrize("operation", hostile.operation_ids())
def test_hostile_input_on_postgres_gets_a_clear_4xx_and_the_next_caller_is_served(api: Api, operation: str) -> None:
    sent, problems = hostile.run_operation(api, operation)
    assert sent > 0
    assert problems == [], "\n".join(problems[:30])


@pytest.mark.parametrize(
    ("method", "path", "raw", "headers", "status", "code"),
    [
        ("GET", "/no/such/route", None, {}, 403, "unknown_route"),
        ("PATCH", "/workflows/daily_operations", b"{}", {}, 405, "method_not_allowed"),
        (
            "PUT",
            "/workflows/daily_operations",
            b'{"description": "x"}',
            {"Content-Type": "text/plain"},
            415,
            "unsupported_media_type",
        ),
        ("GET", "/workflows/a%00b", None, {}, 400, "invalid_parameter"),
        ("GET", "/executions?cursor=%00", None, {}, 400, "validation_error"),
        ("PUT", "/workflows/daily_operations", b'{"description": "a\\u0000b"}', {}, 400, "validation_error"),
        (
            "PUT",
            "/workflows/daily_operations",
            b'{"description": "' + b"x" * 300_000 + b'"}',
            {},
            413,
            "payload_too_large",
        ),
        ("PUT", "/workflows/daily_operations", b"\xff\xfe", {}, 400, "invalid_json"),
    ],
)
def test_over_http_every_refusal_has_the_project_shape_and_the_next_caller_is_served(
    http: Api, method: str, path: str, raw: bytes | None, headers: dict[str, str], status: int, code: str
) -> None:
    # WHEN chalice local gets a request Chalice or the API must refuse
    got, body, _ = http.call(method, path, token_for("platform_admin"), raw=raw or b"", headers=headers)
    # THEN the refusal is in the one shape, with its code
    assert got == status, body
    assert_error_shape(got, body)
    assert body["error"] == code
    # AND the next caller is served correctly
    got, workflow, _ = http.call("GET", "/workflows/daily_operations", token_for("platform_admin"))
    assert got == 200 and workflow["name"] == "daily_operations"
