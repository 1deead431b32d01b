"""What operators' tools see of the service in process (chalice.test.Client, embedded SQLite): the
OpenAPI document passes openapi-spec-validator and documents every route with its errors; a scrape after
a run passes `promtool check metrics`; the series the alert rules need come from the records."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from app import app
from chalicelib.api.auth import issue_token
from tests.orchestrator.operator_tools import check_alert_series_from_records, exposed, promtool

ADMIN = issue_token(subject="ops", role="platform_admin")
ERROR_REF = "#/components/schemas/ErrorBody"


@pytest.fixture(scope="module")
def document(stack: Any) -> dict[str, Any]:
    with Client(app, stage_name="local") as client:
        response = client.http.get("/openapi.json")
    assert response.status_code == 200
    return json.loads(response.body)


def test_the_served_openapi_document_passes_openapi_spec_validator(document: dict[str, Any]) -> None:
    # WHEN openapi-spec-validator reads the document the app serves
    errors = [error.message for error in OpenAPIV31SpecValidator(document).iter_errors()]
    # THEN it finds nothing wrong (and its one-call form agrees)
    assert errors == []
    validate(document)


def test_a_null_default_stays_only_where_null_is_allowed(document: dict[str, Any]) -> None:
    from chalicelib.api.openapi import strictly_valid

    # GIVEN a schema as pydantic writes an optional field that may not be null, and one that may
    loose = {"type": "array", "items": {"type": "string"}, "default": None}
    nullable = {"anyOf": [{"type": "array"}, {"type": "null"}], "default": None}
    # WHEN the generator's rule is applied
    # THEN the first loses its null default and the second keeps it
    assert strictly_valid(loose) == {"type": "array", "items": {"type": "string"}}
    assert strictly_valid(nullable) == nullable
    # AND the served document has no null default on a schema that refuses null
    body = document["components"]["schemas"]["WorkflowUpdate"]["properties"]["steps"]
    assert body["type"] == "array" and "default" not in body


def test_every_route_is_in_the_document_with_its_error_responses(document: dict[str, Any]) -> None:
    # GIVEN every route the Chalice app serves (those added later included)
    routes = [(path, method) for path, methods in app.routes.items() for method in methods]
    assert len(routes) >= 20
    for path, method in routes:
        # THEN each is documented
        operation = document["paths"].get(path, {}).get(method.lower())
        assert operation is not None, f"{method} {path} is not in /openapi.json"
        responses = operation["responses"]
        errors = {int(code) for code in responses if int(code) >= 400}
        # AND a route that can refuse (a token, parameters, a body) says which errors it answers, each
        # with the one error shape (a model for 503 Health)
        if operation["security"] or operation.get("parameters") or operation.get("requestBody"):
            assert errors, f"{method} {path} documents no error response"
        for code in errors:
            schema = responses[str(code)]["content"]["application/json"]["schema"]
            assert schema.get("$ref", "").startswith("#/components/schemas/"), (method, path, code)
        # AND a route behind a token answers 401, one with parameters or a body answers 400
        if operation["security"]:
            assert responses["401"]["content"]["application/json"]["schema"]["$ref"] == ERROR_REF, (method, path)
        if operation.get("parameters") or operation.get("requestBody"):
            assert "400" in responses, (method, path)


def test_a_scrape_after_a_run_passes_promtool_check_metrics(stack: Any) -> None:
    # GIVEN a finished run on the local cloud
    runs = stack.dispatches(stack.fire(datetime(2026, 12, 22, 7, 0, tzinfo=UTC)))[0]["runs"]
    summary = stack.wait(runs[0]["execution_name"], timeout=180).summary
    assert summary["status"] == "completed"
    # WHEN Prometheus would scrape /metrics
    with Client(app, stage_name="local") as client:
        response = client.http.get("/api/v1/orchestrator/metrics", headers={"Authorization": f"Bearer {ADMIN}"})
    text = response.body.decode() if isinstance(response.body, bytes) else response.body
    assert response.status_code == 200
    # THEN promtool's linter accepts it
    done = promtool("check", "metrics", stdin=text)
    assert done.returncode == 0, done.stdout + done.stderr
    # AND the series the alert rules need are there, for the run's scope too
    series = exposed(text)
    for name in (
        "orchestrator_workflow_last_success_timestamp_seconds",
        "orchestrator_workflow_slow_runs_total",
        "orchestrator_workflow_cost_eur_total",
        "orchestrator_outbox_pending_events",
        "orchestrator_outbox_oldest_pending_age_seconds",
    ):
        assert name in series, name
    assert series["orchestrator_workflow_last_success_timestamp_seconds"] == {"workflow_name", "workflow_type", "scope"}
    assert f'scope="{summary["scope"]}"' in text


def test_the_alert_series_come_from_the_records_on_sqlite(stack: Any) -> None:
    check_alert_series_from_records()


# --- the README's CloudWatch Logs Insights queries ------------------------------------------------------------
INSIGHTS_WORDS = {"fields", "filter", "sort", "stats", "limit", "by", "asc", "desc", "and", "or", "not", "as"}
INSIGHTS_WORDS |= {"count", "count_distinct", "avg", "pct", "max", "min", "sum", "like", "in"}


def readme_insights_queries() -> list[str]:
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### CloudWatch Logs Insights", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```\n(.*?)\n```", section, flags=re.S)


def insights_fields(query: str) -> tuple[set[str], dict[str, set[str]]]:
    """(the log fields a query names, field -> the string values it compares the field with)."""
    compared: dict[str, set[str]] = {}
    for name, value in re.findall(r'([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"([^"]*)"', query):
        compared.setdefault(name, set()).add(value)
    aliases = set(re.findall(r"\bas\s+([A-Za-z_][A-Za-z0-9_]*)", query))
    bare = re.sub(r'"[^"]*"', " ", query)
    words = set(re.findall(r"(?<![@\w])([A-Za-z_][A-Za-z0-9_]*)", bare))
    return words - INSIGHTS_WORDS - aliases, compared


@contextlib.contextmanager
def step_log_lines() -> Iterator[list[dict[str, Any]]]:
    """The JSON lines the Lambda handlers write (Powertools), captured at INFO as on dev/prod; the list is
    filled when the block ends."""
    from chalicelib.observability import get_logger

    logger = get_logger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    base = logging.getLogger(logger.name)
    level = base.level
    base.addHandler(handler)
    base.setLevel(logging.INFO)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        base.removeHandler(handler)
        base.setLevel(level)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{"))


def test_the_readme_logs_insights_queries_use_the_keys_and_messages_the_steps_log(stack: Any, simulator: Any) -> None:
    # GIVEN a day on the local cloud where the procurement service fails for one tenant
    victim = sorted(
        t["id"] for t in simulator.state.sorted_tenants if t["status"] == "active" and t["timezone"] == "Europe/Madrid"
    )[0]
    simulator.state.set_fault("procurement", status_code=503, error_rate=1.0, tenant_ids=[victim])
    # WHEN it runs, with the step handlers' log lines collected
    with step_log_lines() as lines:
        runs = stack.dispatches(stack.fire(datetime(2026, 12, 23, 7, 0, tzinfo=UTC)))[0]["runs"]
        summary = stack.wait(runs[0]["execution_name"], timeout=180).summary
    assert summary["status"] == "completed_with_failures"
    steps = [line for line in lines if line.get("execution_name") == summary["execution_name"]]
    completed = [line for line in steps if line["message"] == "step completed"]
    failed = [line for line in steps if line["message"] == "step failed"]
    # (the emulator runs a Map's tenants as threads of one process, where Powertools' appended keys are
    # shared: a line may name another tenant of the run, which a Lambda sandbox never does)
    assert completed and failed and victim in {line["tenant_id"] for line in failed}
    # THEN every field each README query names is a key of the lines it selects, and every message it
    # filters on is one the steps write
    queries = readme_insights_queries()
    assert len(queries) >= 5
    for query in queries:
        fields, compared = insights_fields(query)
        selected = {
            "step completed": completed,
            "step failed": failed,
        }.get(next(iter(compared.get("message", {""}))), steps)
        keys = set().union(*(line.keys() for line in selected))
        assert fields <= keys, (query, fields - keys)
        assert compared.get("message", set()) <= {line["message"] for line in steps}, query
        # AND the example execution name has the shape of a real one
        for example in compared.get("execution_name", set()):
            shape = re.sub(r"\d{4}-\d{2}-\d{2}$", "<date>", example)
            assert shape == re.sub(r"\d{4}-\d{2}-\d{2}$", "<date>", summary["execution_name"]), example
