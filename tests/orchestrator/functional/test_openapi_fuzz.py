"""Schemathesis over every operation of /openapi.json, in process (a WSGI adapter over chalice.test.Client),
once with a platform admin's token and once with a tenant's: no 5xx, and every response matches its schema.

Bounded: MAX_EXAMPLES per operation and generation mode (positive and negative data).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import app
from chalicelib.api.auth import issue_token

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
ADMIN = issue_token(subject="fuzz-admin", role="platform_admin")
TENANT = issue_token(subject="fuzz-tenant", role="tenant_admin", tenant_id="fuzz-tenant-0001", tier="starter")


class ChaliceWsgi:
    """The Chalice app as a WSGI application, through the LocalGateway that `chalice local` serves."""

    def __init__(self) -> None:
        from chalice.config import Config
        from chalice.local import LocalGateway

        self._gateway = LocalGateway(app, Config(chalice_stage="local"))

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        from chalice.local import LocalGatewayException

        path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
        if "?" not in path and environ.get("QUERY_STRING"):
            path = f"{path}?{environ['QUERY_STRING']}"
        headers = {
            key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            response = self._gateway.handle_request(environ["REQUEST_METHOD"], path, headers, body)
        except LocalGatewayException as exc:  # API Gateway's own answers (unknown route)
            start_response(f"{exc.CODE} -", list(exc.headers.items()))
            return [exc.body or b""]
        payload = response.get("body") or b""
        if response.get("isBase64Encoded"):
            payload = base64.b64decode(payload)
        elif isinstance(payload, str):
            payload = payload.encode()
        start_response(f"{response['statusCode']} -", [(k, str(v)) for k, v in response["headers"].items()])
        return [payload]


WSGI = ChaliceWsgi()
schema = schemathesis.openapi.from_wsgi("/openapi.json", WSGI)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module", autouse=True)
def workflows_restored(stack: Any) -> Iterator[None]:
    """Fuzzed writes may change workflows; put every row back afterwards (the stack is shared)."""
    from sqlalchemy import delete, select

    from chalicelib.db.engine import session_scope
    from chalicelib.db.models import Workflow

    columns = [c.key for c in Workflow.__table__.columns]
    with session_scope() as session:
        saved = {w.id: {c: getattr(w, c) for c in columns} for w in session.scalars(select(Workflow))}
    yield
    with session_scope() as session:
        session.execute(delete(Workflow).where(Workflow.id.not_in(list(saved))))
        for ident, values in saved.items():
            row = session.get(Workflow, ident)
            for column, value in values.items():
                setattr(row, column, value)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_platform_admin(case: Any, stack: Any) -> None:
    # GIVEN generated requests (valid and invalid) for every operation WHEN sent with an admin token
    # THEN no 5xx and every response conforms to the document
    case.call_and_validate(headers={"Authorization": f"Bearer {ADMIN}"}, checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_tenant(case: Any, stack: Any) -> None:
    # GIVEN the same requests WHEN sent with a tenant admin's token THEN the same guarantees
    case.call_and_validate(headers={"Authorization": f"Bearer {TENANT}"}, checks=CHECKS)
