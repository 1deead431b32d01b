"""Calling the API the way a client does, in process (`chalice.test.Client`) or over HTTP (`chalice local`),
with a token per role, and the checks every error answer must pass (the one shape, nothing internal)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

BASE = "/api/v1/orchestrator"
ROLES = ("anonymous", "tenant_user", "tenant_admin", "platform_admin")
TENANT = "hostile-tenant-0001"


def token_for(role: str, tenant_id: str = TENANT) -> str | None:
    """A valid token for the role (None for an anonymous caller), minted with this process's settings."""
    from chalicelib.api.auth import issue_token

    if role == "anonymous":
        return None
    if role == "platform_admin":
        return issue_token(subject="ops", role=role)
    return issue_token(subject=f"user-{tenant_id}", role=role, tenant_id=tenant_id, tier="professional")


class Api:
    """`call(method, path, ...)` -> (status, JSON body or text, headers). `path` is relative to the API
    prefix unless it starts with "/openapi" or `absolute=True`."""

    def __init__(self, http: Any = None, base_url: str | None = None) -> None:
        self.http, self.base_url = http, base_url

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        absolute: bool = False,
    ) -> tuple[int, Any, dict[str, str]]:
        sent = {"Content-Type": "application/json"}
        if token:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        url = path if absolute or path.startswith("/openapi") else f"{BASE}{path}"
        if self.base_url is not None:
            import httpx

            response = httpx.request(method, f"{self.base_url}{url}", headers=sent, content=data, timeout=60)
            status, text, got = response.status_code, response.text, dict(response.headers)
        else:
            response = self.http.request(method, url, headers=sent, body=data)
            text = response.body.decode(errors="replace") if isinstance(response.body, bytes) else response.body
            status, got = response.status_code, dict(response.headers)
        content_type = next((v for k, v in got.items() if k.lower() == "content-type"), "")
        try:
            parsed = json.loads(text) if "json" in content_type and text else text
        except ValueError:
            parsed = text
        return status, parsed, got


@contextmanager
def in_process() -> Iterator[Api]:
    """The app through `chalice.test.Client`, on the stage this process runs (a test stack's own stage):
    the client puts its stage's variables into the environment during each call, and with "local" the
    API would reconcile another stage's rules than the stack's clock fires."""
    from chalice.test import Client

    from app import app

    with Client(app, stage_name=os.environ.get("STAGE") or "local") as client:
        yield Api(client.http)


# What an error answer must never show a caller: tracebacks, driver and library names, file paths,
# host:port pairs, AWS account-bearing ARNs.
_INTERNALS = re.compile(
    r"Traceback|File \"|\.py\b|sqlalchemy|pg8000|psycopg|sqlite3|redis\.|botocore|pydantic_core|"
    r"\b\d{1,3}(\.\d{1,3}){3}:\d+|localhost:\d+|arn:aws:",
    re.IGNORECASE,
)


def internals_in(text: str) -> list[str]:
    return [m.group(0) for m in _INTERNALS.finditer(text)]


def assert_error_shape(status: int, body: Any, *, context: Any = None) -> None:
    """A 4xx/5xx answer in the project's shape, saying nothing internal."""
    assert isinstance(body, dict), (status, body, context)
    assert set(body) == {"error", "message", "field"}, (status, body, context)
    assert isinstance(body["error"], str) and body["error"], (body, context)
    assert isinstance(body["message"], str) and body["message"], (body, context)
    assert body["field"] is None or isinstance(body["field"], str), (body, context)
    leaked = internals_in(json.dumps(body))
    assert not leaked, (leaked, body, context)
