"""The CloudFormation side of the one description: the merge template renders, `chalice package`
accepts it offline, and the packaged SAM template wires the same functions, ASL and rules the local
cloud deploys. The Chalice config resolves, for every stage, to the timeouts, memory and environment below."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chalice.config import Config

from chalicelib.domain.retry import tenant_retry
from infra import resources, template

# What every stage's functions must resolve to (seconds): the step tasks fit inside their ASL TimeoutSeconds.
EXPECTED_TIMEOUTS = {
    "dispatch": 60,
    "start_run": 60,
    "list_tenants": 110,
    "record_tenant_failure": 60,
    "finish_run": 110,
    "fail_run": 110,
    "publish_events": 55,
    # Above the services' documented client timeouts (300 s forecasting, 180 s production and procurement).
    "migrate": 600,
    "generate_forecasts": 330,
    "plan_production": 210,
    "calculate_procurement": 210,
    "project_inventory": 25,
    "validate_forecasts": 25,
    "send_daily_summary": 25,
}
EXPECTED_MEMORY_MB = 256
COMMON_ENV = {
    "DEFAULT_TIMEZONE": "Europe/Madrid",
    "DAILY_WORKFLOW_CRON": "0 8 * * *",
    "WEEKLY_WORKFLOW_CRON": "0 9 * * 1",
    "MAX_WORKFLOW_DURATION_SECONDS": "3600",
    "PLATFORM_TIMEOUT_SECONDS": "10",
    "POWERTOOLS_SERVICE_NAME": "bakery-orchestrator",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}
EXPECTED_ENV = {
    "local": {
        **COMMON_ENV,
        "STAGE": "local",
        "MAP_MAX_CONCURRENCY": "8",
        "WORKFLOW_MAX_RETRIES": "2",
        "WORKFLOW_RETRY_DELAY_SECONDS": "1",
    },
    "dev": {**COMMON_ENV, "STAGE": "dev", "POWERTOOLS_LOG_LEVEL": "INFO"},
    "prod": {**COMMON_ENV, "STAGE": "prod", "POWERTOOLS_LOG_LEVEL": "INFO"},
}


def test_merge_template_wires_every_placeholder_and_function() -> None:
    # GIVEN the rendered merge template
    rendered = template.render("prod")["Resources"]
    machine = rendered["DailyOperationsStateMachine"]["Properties"]
    # THEN every ${Placeholder} of the ASL has a substitution naming a packaged function's ARN
    spec = resources.state_machines()[0]
    assert set(machine["DefinitionSubstitutions"]) == spec.placeholders()
    logical_ids = {f.logical_id for f in resources.functions("prod")}
    assert {v["Fn::GetAtt"][0] for v in machine["DefinitionSubstitutions"].values()} <= logical_ids
    assert machine["DefinitionString"] == resources.packaged_definition(spec)
    # AND the per-tenant steps carry the seeded workflow's retry policy (3 retries from 300 s by default)
    assert tenant_retry(machine["DefinitionString"]) == (3, 300)
    # AND every function (and the API handler) learns the state machine ARN and the manifest bucket
    for logical_id in [*logical_ids, "APIHandler"]:
        variables = rendered[logical_id]["Properties"]["Environment"]["Variables"]
        assert {"DAILY_OPERATIONS_STATE_MACHINE_ARN", "MANIFEST_BUCKET"} <= set(variables)
        # AND only the functions that reconcile the schedule rules learn their target
        assert ("DISPATCH_FUNCTION_ARN" in variables) == (logical_id in ("APIHandler", "Migrate"))
    # AND the static rules (not the reconciled schedules) are there with their permissions
    rules = [r for r in resources.rules() if not r.name.startswith("sched-")]
    assert rules
    for rule in rules:
        assert rendered[rule.logical_id]["Properties"]["ScheduleExpression"] == rule.schedule_expression
        assert rendered[rule.logical_id + "Permission"]["Properties"]["Principal"] == "events.amazonaws.com"


def test_chalice_package_merges_the_template(packaged_stack: Path) -> None:
    # GIVEN what `make package` writes (chalice package with the merge template, offline)
    sam = json.loads((packaged_stack / "sam.json").read_text())["Resources"]
    # THEN the SAM template has Chalice's functions with our wiring merged in, and the state machine
    assert sam["Dispatch"]["Type"] == "AWS::Serverless::Function"
    assert sam["Dispatch"]["Properties"]["Handler"] == "app.dispatch"
    assert "MANIFEST_BUCKET" in sam["GenerateForecasts"]["Properties"]["Environment"]["Variables"]
    assert sam["GenerateForecasts"]["Properties"]["Environment"]["Variables"]["STAGE"] == "prod"
    assert sam["DailyOperationsStateMachine"]["Type"] == "AWS::StepFunctions::StateMachine"
    assert (packaged_stack / "deployment.zip").stat().st_size > 0
    # AND no function runs as Chalice's shared role: each has its own, declared by the merge template
    functions = {name: r for name, r in sam.items() if r["Type"] == "AWS::Serverless::Function"}
    assert "DefaultRole" not in sam
    assert {name: r["Properties"]["Role"] for name, r in functions.items()} == {
        name: {"Fn::GetAtt": [f"{name}Role", "Arn"]} for name in functions
    }


@pytest.mark.parametrize("stage", sorted(EXPECTED_ENV))
def test_every_stage_resolves_each_function_timeout_memory_and_environment(stage: str) -> None:
    # GIVEN .chalice/config.json read through Chalice's own Config, as infra/resources.py reads it
    # WHEN each function of the stage is resolved
    resolved = {spec.name: (spec.timeout, spec.memory, spec.environment) for spec in resources.functions(stage)}
    # THEN every step function has its timeout, the shared memory size and the stage's environment
    assert resolved == {
        name: (timeout, EXPECTED_MEMORY_MB, EXPECTED_ENV[stage]) for name, timeout in EXPECTED_TIMEOUTS.items()
    }
    # AND so does the API handler, which has no entry of its own (the app-wide defaults)
    disk = json.loads(resources.CHALICE_CONFIG.read_text(encoding="utf-8"))
    api = Config(chalice_stage=stage, function_name="api_handler", config_from_disk=disk)
    assert (api.lambda_timeout, api.lambda_memory_size, api.environment_variables) == (
        60,
        EXPECTED_MEMORY_MB,
        EXPECTED_ENV[stage],
    )


def test_chalice_config_keeps_per_function_settings_in_one_top_level_block() -> None:
    # GIVEN the config on disk and the functions app.py declares
    from app import app

    disk = json.loads(resources.CHALICE_CONFIG.read_text(encoding="utf-8"))
    per_function = disk["lambda_functions"]
    # THEN the one top-level block names exactly the declared functions (Chalice ignores unknown names)
    assert set(per_function) == {fn.name for fn in app.pure_lambda_functions}
    # AND holds no environment: Chalice 1.34 merges environment_variables from the top level, the stage and
    # the stage's lambda_functions only, so env set here would be dropped without a word
    assert not [name for name, settings in per_function.items() if "environment_variables" in settings]
    # AND a stage overrides a function only where it differs: it never repeats the top-level value
    repeated = [
        (stage, name, key)
        for stage, settings in disk["stages"].items()
        for name, overrides in settings.get("lambda_functions", {}).items()
        for key, value in overrides.items()
        if per_function.get(name, {}).get(key) == value
    ]
    assert repeated == []
