"""The files in ops/ and contracts/ pass the tools operators check them with: promtool (rules, rule unit
tests, the scrape config, the dashboard's PromQL), the AsyncAPI parser; and the AsyncAPI document says what
events.schema.json and the domain say about the events."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from chalicelib.domain.events import EXCHANGE, ROUTING_KEYS, completed_event, failed_event
from tests.orchestrator import event_contract
from tests.orchestrator.operator_tools import (
    ASYNCAPI_TOOL,
    OPS,
    RULE_TESTS,
    RULES,
    SCRAPE_CONFIG,
    Expression,
    as_prometheus,
    dashboard,
    dashboard_expressions,
    promtool,
    require_asyncapi_parser,
    unknown_names,
)


# --- Prometheus ------------------------------------------------------------------------------------------
def test_promtool_check_rules_accepts_the_alert_rules() -> None:
    # WHEN promtool checks the rules file
    done = promtool("check", "rules", str(RULES))
    # THEN it accepts all five alerts
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 5 rules found" in done.stdout


def test_every_alert_has_a_promtool_unit_test_that_fires_it_and_one_that_does_not_and_they_pass() -> None:
    # GIVEN the alerts and their unit tests
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    cases = [case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    fired = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    # THEN each alert is tested both ways
    assert alerts == fired == quiet
    # AND promtool runs the tests green
    done = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_a_wrong_expectation_in_a_rule_unit_test_fails_promtool(tmp_path: Path) -> None:
    # GIVEN the outbox alert's unit test, expecting it before the oldest event is 10 minutes old
    tests = yaml.safe_load(RULE_TESTS.read_text())
    [outbox] = [
        t for t in tests["tests"] if any(c["alertname"] == "OrchestratorOutboxBacklog" for c in t["alert_rule_test"])
    ]
    for case in outbox["alert_rule_test"]:
        if case["exp_alerts"]:
            case["eval_time"] = "9m30s"
    shutil.copy(RULES, tmp_path / RULES.name)
    (tmp_path / RULE_TESTS.name).write_text(yaml.safe_dump({**tests, "tests": [outbox]}))
    # WHEN promtool runs it
    done = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    # THEN it fails, naming the alert
    assert done.returncode != 0 and "OrchestratorOutboxBacklog" in done.stdout + done.stderr


def test_the_scrape_config_example_passes_promtool_check_config(tmp_path: Path) -> None:
    # GIVEN the example with its token file present (promtool checks that the file exists)
    token = tmp_path / "orchestrator-metrics-token"
    token.write_text("a-metrics-token")
    config = SCRAPE_CONFIG.read_text().replace("/etc/prometheus/orchestrator-metrics-token", str(token))
    (tmp_path / "prometheus.yml").write_text(config)
    shutil.copy(RULES, tmp_path / RULES.name)
    # WHEN promtool checks it
    done = promtool("check", "config", "prometheus.yml", cwd=tmp_path)
    # THEN it is valid, scrapes the metrics path and loads the rules
    assert done.returncode == 0, done.stdout + done.stderr
    scrape = yaml.safe_load(config)["scrape_configs"][0]
    assert scrape["metrics_path"] == "/api/v1/orchestrator/metrics"
    assert scrape["authorization"]["type"] == "Bearer"


# --- Grafana --------------------------------------------------------------------------------------------------
def test_every_dashboard_expression_is_promql_that_prometheus_parses(tmp_path: Path) -> None:
    # GIVEN every panel query and variable of the dashboard, with Grafana's variables filled in
    expressions = dashboard_expressions()
    assert len(expressions) >= 10
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:expression_{i}", "expr": as_prometheus(e.promql)}
                    for i, e in enumerate(expressions)
                    if not e.promql.startswith("label_values(")
                ],
            }
        ]
    }
    (tmp_path / "dashboard-rules.yml").write_text(yaml.safe_dump(rules))
    # WHEN Prometheus' own parser reads them (as recording rules)
    done = promtool("check", "rules", "dashboard-rules.yml", cwd=tmp_path)
    # THEN every one parses
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_dashboard_is_ready_for_file_provisioning() -> None:
    board = dashboard()
    # THEN it has a stable uid and no instance id or import-only inputs
    assert board["uid"] == "bakery-orchestrator" and board["id"] is None and "__inputs" not in board
    # AND it asks for its Prometheus data source, which every panel and query uses
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    panels = [p for p in board["panels"] if p["type"] != "row"]
    source = {"type": "prometheus", "uid": "${datasource}"}
    assert all(p["datasource"] == source and all(t["datasource"] == source for t in p["targets"]) for p in panels)
    # AND panel ids are unique and each panel has a place and a title
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert all(p["title"] and {"x", "y", "w", "h"} <= set(p["gridPos"]) for p in board["panels"])
    # AND it covers what operators asked for
    titles = " | ".join(p["title"] for p in panels).lower()
    for subject in ("by status", "duration", "success rate", "tenants processed", "lock holder", "outbox", "cost"):
        assert subject in titles, subject
    # AND the provisioning file loads dashboards from files
    provider = yaml.safe_load((OPS / "grafana" / "provisioning" / "dashboards" / "bakery-orchestrator.yml").read_text())
    assert provider["apiVersion"] == 1 and provider["providers"][0]["type"] == "file"


def test_the_expression_check_names_a_misspelled_series_a_missing_label_and_a_stray_grouping() -> None:
    # GIVEN what a scrape exposes
    series = {"orchestrator_workflow_executions_total": {"workflow_name", "status"}}
    # WHEN expressions with mistakes are checked against it
    problems = unknown_names(
        [
            Expression(
                "good", 'sum by (status) (increase(orchestrator_workflow_executions_total{status="failed"}[1h]))'
            ),
            Expression("typo", "orchestrator_workflow_execution_total"),
            Expression("label", 'orchestrator_workflow_executions_total{tenant="x"}'),
            Expression("grouping", "sum by (scope) (orchestrator_workflow_executions_total)"),
            Expression("nothing", "vector(1)"),
        ],
        series,
    )
    # THEN each mistake is reported, and the good expression is not
    assert problems == [
        "typo: series orchestrator_workflow_execution_total is not exposed",
        "label: orchestrator_workflow_executions_total has no label tenant",
        "grouping: no series it names carries the label scope",
        "nothing: names no series: vector(1)",
    ]


# --- AsyncAPI -------------------------------------------------------------------------------------------------
def test_the_asyncapi_document_passes_the_asyncapi_parser() -> None:
    import subprocess

    # WHEN the AsyncAPI parser (what `asyncapi validate` runs) reads the document
    command = require_asyncapi_parser()
    done = subprocess.run(
        [*command, str(event_contract.ASYNCAPI)], capture_output=True, text=True, timeout=120, cwd=ASYNCAPI_TOOL
    )
    result = json.loads(done.stdout)
    # THEN it parses as AsyncAPI 3 with no error and no warning
    serious = [d for d in result["diagnostics"] if d["severity"] in ("error", "warning")]
    assert done.returncode == 0 and result["parsed"], result
    assert result["version"].startswith("3.") and serious == []


def test_a_broken_asyncapi_document_fails_the_parser(tmp_path: Path) -> None:
    import subprocess

    # GIVEN the document with a delivery mode AMQP does not have
    broken = event_contract.ASYNCAPI.read_text().replace("deliveryMode: 2", "deliveryMode: 3")
    (tmp_path / "asyncapi.yaml").write_text(broken)
    shutil.copy(event_contract.EVENTS_SCHEMA, tmp_path / "events.schema.json")
    # WHEN the parser reads it
    done = subprocess.run(
        [*require_asyncapi_parser(), str(tmp_path / "asyncapi.yaml")], capture_output=True, text=True, timeout=120
    )
    # THEN it is refused, naming the binding
    result = json.loads(done.stdout)
    assert done.returncode != 0 and not result["parsed"]
    assert any("deliveryMode" in d["path"] for d in result["diagnostics"] if d["severity"] == "error")


def test_the_asyncapi_messages_are_the_event_schemas_routing_keys_and_exchange_of_the_service() -> None:
    messages = event_contract.messages()
    schema = event_contract.events_schema()
    # THEN there is one channel per routing key the service publishes with
    assert set(messages) == set(ROUTING_KEYS.values())
    # AND the payloads are exactly the events of events.schema.json (referenced, not copied)
    assert {m.payload_pointer for m in messages.values()} == {branch["$ref"] for branch in schema["oneOf"]}
    for routing_key, message in messages.items():
        event_type = _resolve(schema, message.payload_pointer)["properties"]["event_type"]["const"]
        # AND each message is named by its event type, routed by that type's key, typed with it in AMQP
        assert ROUTING_KEYS[event_type] == routing_key
        assert message.name == message.amqp_type == event_type
        # AND it is JSON, persistent, on the durable topic exchange the service declares
        assert message.content_type == "application/json" and message.delivery_mode == 2
        assert message.exchange["name"] == EXCHANGE and message.exchange["type"] == "topic"
        assert message.exchange["durable"] is True
        assert message.message_id_pointer == "#/$defs/uuid"
        # AND its examples are valid payloads
        assert message.examples
        for example in message.examples:
            event_contract.validate_payload(message, example)


def test_the_events_the_domain_builds_are_valid_asyncapi_payloads() -> None:
    at = datetime(2026, 11, 6, 8, 30, 20, tzinfo=UTC)
    completed = completed_event(
        workflow_name="daily_operations",
        execution_id="3f1c2a9e-8b7d-4c6e-9a5f-0d1e2f3a4b5c",
        counters={"tenants_processed": 125, "steps_completed": 625, "steps_failed": 3},
        duration_seconds=1820.4,
        at=at,
    )
    failed = failed_event(
        workflow_name="daily_operations",
        execution_id="3f1c2a9e-8b7d-4c6e-9a5f-0d1e2f3a4b5c",
        error_message="all 45 tenants failed",
        tenants_affected=45,
        at=at,
    )
    messages = event_contract.messages()
    # THEN each validates against the message of its routing key
    event_contract.validate_payload(messages[ROUTING_KEYS[completed["event_type"]]], completed)
    event_contract.validate_payload(messages[ROUTING_KEYS[failed["event_type"]]], failed)
    # AND a payload of the other kind does not
    with pytest.raises(Exception, match="event_type|required|Additional"):
        event_contract.validate_payload(messages[ROUTING_KEYS[completed["event_type"]]], failed)


def _resolve(schema: dict[str, Any], pointer: str) -> dict[str, Any]:
    node: Any = schema
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part]
    return node
