"""The service as operators' own tools meet it, over HTTP (`chalice local`) on real Postgres, Redis and
RabbitMQ: openapi-spec-validator on the served document; a Python client generated from it by
openapi-python-client (at test time, into a temporary folder) lists executions, reads one and triggers a
run; after that run a scrape of /metrics passes `promtool check metrics`, and every expression of the alert
rules and the Grafana dashboard names series and labels that scrape really exposes."""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from chalicelib.api.auth import issue_token
from tests.orchestrator.operator_tools import (
    check_alert_series_from_records,
    dashboard_expressions,
    exposed,
    promtool,
    rule_expressions,
    unknown_names,
)

ADMIN = issue_token(subject="ops", role="platform_admin")
RUN_DATE = date(2029, 3, 1)  # this module's runs only (and the scheduled run of the day after)


@pytest.fixture(scope="module")
def api_url(pg_stack: Any) -> Iterator[str]:
    from localrun.api import LocalApi

    api = LocalApi(pg_stack.env).start()
    try:
        yield api.url
    finally:
        api.stop()


@pytest.fixture(scope="module")
def served_document(api_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    response = httpx.get(f"{api_url}/openapi.json", timeout=30)
    assert response.status_code == 200
    path = tmp_path_factory.mktemp("openapi") / "openapi.json"
    path.write_text(response.text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def generated_client(served_document: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """`openapi-python-client generate` over the served document, imported under a name of its own.
    No post-processing hooks (they would run ruff/black over the generated code)."""
    package = f"orchestrator_client_{uuid.uuid4().hex[:8]}"
    root = tmp_path_factory.mktemp("generated-client")
    config = root / "config.yml"
    config.write_text(f"post_hooks: []\npackage_name_override: {package}\n", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(served_document),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(root / package),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # The generator reports what it could not generate as warnings; there must be none.
    assert done.returncode == 0 and "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(package)
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == package or n.startswith(f"{package}.")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def client(generated_client: ModuleType, api_url: str) -> Any:
    return generated_client.AuthenticatedClient(base_url=api_url, token=ADMIN, raise_on_unexpected_status=True)


@pytest.fixture(scope="module")
def triggered(generated_client: ModuleType, client: Any, pg_stack: Any) -> dict[str, Any]:
    """A manual run of two Madrid tenants started through the generated client, and its final summary."""
    execute = importlib.import_module(f"{generated_client.__name__}.api.workflows.execute_workflow")
    models = importlib.import_module(f"{generated_client.__name__}.models")
    tenants = sorted(
        t["id"]
        for t in pg_stack.simulator.state.sorted_tenants
        if t["status"] == "active" and t["timezone"] == "Europe/Madrid"
    )[:2]
    started = execute.sync_detailed(
        "daily_operations", client=client, body=models.ExecuteRequest(tenant_ids=tenants, run_date=RUN_DATE)
    )
    assert started.status_code == 202, started.content
    result = started.parsed
    assert isinstance(result, models.ExecuteResult)
    summary = pg_stack.wait(result.runs[0].execution_name, timeout=180).summary
    return {"result": result, "summary": summary, "tenants": tenants, "models": models}


def test_openapi_spec_validator_accepts_the_document_chalice_local_serves(served_document: Path) -> None:
    import json

    # WHEN openapi-spec-validator reads what `chalice local` serves
    errors = [e.message for e in OpenAPIV31SpecValidator(json.loads(served_document.read_text())).iter_errors()]
    # THEN it finds nothing wrong
    assert errors == []


def test_a_generated_client_triggers_a_run_lists_executions_and_reads_one(
    generated_client: ModuleType, client: Any, triggered: dict[str, Any]
) -> None:
    package = generated_client.__name__
    list_executions = importlib.import_module(f"{package}.api.executions.list_executions")
    get_execution = importlib.import_module(f"{package}.api.executions.get_execution")
    models = triggered["models"]
    # GIVEN the run the generated client triggered (typed answer: one run started for Madrid)
    [run] = triggered["result"].runs
    assert (run.outcome, run.scope) == ("started", "Europe/Madrid")
    assert triggered["summary"]["status"] == "completed"
    # WHEN the client lists that day's executions
    page = list_executions.sync(client=client, workflow="daily_operations", date_from=RUN_DATE, date_to=RUN_DATE)
    # THEN it gets a typed page holding the run, finished
    assert isinstance(page, models.ExecutionPage)
    [listed] = [e for e in page.executions if e.execution_name == run.execution_name]
    assert listed.status == "completed" and listed.trigger == "manual" and listed.run_date == RUN_DATE
    # AND reading it gives the per-tenant progress of exactly the two tenants
    detail = get_execution.sync(uuid.UUID(listed.id), client=client)
    assert isinstance(detail, models.ExecutionDetail)
    assert detail.execution.tenants_processed == 2
    assert sorted(t.tenant_id for t in detail.tenants) == triggered["tenants"]
    assert all(t.status == "completed" and t.steps_failed == 0 for t in detail.tenants)
    # AND an unknown execution is the documented 404, parsed as the error shape
    missing = get_execution.sync_detailed(uuid.uuid4(), client=client)
    assert missing.status_code == 404 and isinstance(missing.parsed, models.ErrorBody)
    assert missing.parsed.field == "execution_id"


@pytest.fixture(scope="module")
def scheduled(pg_stack: Any) -> list[dict[str, Any]]:
    """The next morning's scheduled run, fired by the EventBridge clock (it takes the dispatch lock, so the
    leader series has a holder to show)."""
    at = datetime.combine(RUN_DATE + timedelta(days=1), time(7, 0), UTC)
    runs = [run for dispatch in pg_stack.dispatches(pg_stack.fire(at)) for run in dispatch["runs"]]
    assert runs
    return [pg_stack.wait(run["execution_name"], timeout=180).summary for run in runs]


@pytest.fixture(scope="module")
def scrape(api_url: str, triggered: dict[str, Any], scheduled: list[dict[str, Any]]) -> str:
    response = httpx.get(
        f"{api_url}/api/v1/orchestrator/metrics", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=30
    )
    assert response.status_code == 200
    return response.text


def test_a_scrape_after_a_run_passes_promtool_check_metrics(scrape: str, triggered: dict[str, Any]) -> None:
    # WHEN promtool lints what Prometheus scrapes after the run
    done = promtool("check", "metrics", stdin=scrape)
    # THEN it accepts it
    assert done.returncode == 0, done.stdout + done.stderr
    # AND the run shows: a success in Madrid no earlier than the run ended, and its estimated cost
    from prometheus_client.parser import text_string_to_metric_families

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scrape)
        for s in family.samples
    }
    madrid = (("scope", "Europe/Madrid"), ("workflow_name", "daily_operations"), ("workflow_type", "daily"))
    ended = triggered["summary"]
    assert samples[("orchestrator_workflow_last_success_timestamp_seconds", madrid)] > 0
    assert samples[("orchestrator_workflow_cost_eur_total", (("workflow_name", "daily_operations"),))] > 0
    assert ended["status"] == "completed"


def test_every_rule_and_dashboard_expression_names_series_the_scrape_exposes(scrape: str) -> None:
    # GIVEN the sample names and labels of a real scrape after a run
    series = exposed(scrape)
    expressions = rule_expressions() + dashboard_expressions()
    assert len(expressions) >= 15
    # WHEN each expression's series, matcher labels and grouping labels are looked up in it
    problems = unknown_names(expressions, series)
    # THEN every one is exposed
    assert problems == []


def test_the_alert_series_come_from_the_records_on_postgres(pg_stack: Any) -> None:
    check_alert_series_from_records()
