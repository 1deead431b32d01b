"""A regional holiday at scale: 10,000 tenants in Europe/Madrid over Madrid, Catalonia and Andalusia on
11 September 2026 (Catalonia's National Day). The execution input names the calendars that run, never the
tenants, so it stays small at any tenant count; ListTenants writes the manifest of the running tenants.

The real dispatcher and the real StartRun and ListTenants handlers run on the local cloud; the state
machine is the daily one's first two states verbatim ("Start run", "List tenants") ending after the
manifest is written, so the test does not process 7,000 tenants. The expected tenant sets are computed
from the seeded regions and the `holidays` package directly, not through the product's calendar code."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import holidays
import pytest

from chalicelib.db.engine import session_scope
from chalicelib.db.models import Workflow
from chalicelib.domain.models import DAILY_STEPS, RunRequest, Tenant
from chalicelib.domain.workflows import schedule_of
from chalicelib.services import scheduling
from chalicelib.services.dispatch import decide, run_calendars

TENANTS = 10_000
REGIONS = ["MD", "CT", "AN"]
INPUT_LIMIT = 1024  # bytes; Step Functions' own limit is 256 KiB
DIADA = date(2026, 9, 11)


def regional_tenants(n: int) -> list[dict[str, Any]]:
    from bakery_sim.tenants import synthetic_tenants

    return synthetic_tenants(n, regions=REGIONS)


@pytest.fixture(scope="module")
def probe(stack: Any) -> Iterator[dict[str, Any]]:
    """10,000 regional tenants in the simulator, and the daily machine's first two states as a state
    machine the dispatcher starts for the probe workflows (restored afterwards)."""
    from infra import resources
    from localcloud.compat import adapt_definition

    tenants = regional_tenants(TENANTS)
    stack.simulator.state.set_tenants(tenants)
    sfn, lam = stack.cloud.client("stepfunctions"), stack.cloud.client("lambda")
    machine = next(m for m in resources.state_machines() if m.workflow == "daily_operations")
    daily = json.loads(
        resources.render_definition(machine, resources.substitutions(machine, stack.deployment.function_arns))
    )
    states = {
        name: {k: v for k, v in daily["States"][name].items() if k != "Catch"} for name in ("Start run", "List tenants")
    }
    states["List tenants"]["Next"] = "Manifest written"
    states["Manifest written"] = {"Type": "Succeed"}
    definition = adapt_definition(json.dumps({"StartAt": daily["StartAt"], "States": states}))
    arn = sfn.create_state_machine(
        name=f"holiday-probe-{uuid.uuid4().hex[:6]}",
        definition=definition,
        roleArn="arn:aws:iam::123456789012:role/holiday-probe",
    )["stateMachineArn"]
    dispatch = stack.deployment.function_arns["dispatch"]
    env = lam.get_function_configuration(FunctionName=dispatch)["Environment"]["Variables"]
    names = {policy: f"holiday_probe_{policy}_{uuid.uuid4().hex[:6]}" for policy in ("skip", "next_business_day")}
    with session_scope() as session:
        for policy, name in names.items():
            session.add(
                Workflow(
                    name=name,
                    workflow_type="daily",
                    cron_expression="0 8 * * *",
                    timezone="Europe/Madrid",
                    steps=list(DAILY_STEPS),
                    enabled=True,
                    holiday_policy=policy,
                    catchup_policy="skip",
                )
            )
    lam.update_function_configuration(
        FunctionName=dispatch,
        Environment={"Variables": {**env, **{f"{n.upper()}_STATE_MACHINE_ARN": arn for n in names.values()}}},
    )
    try:
        yield {"tenants": tenants, "workflows": names, "machine": arn}
    finally:
        lam.update_function_configuration(FunctionName=dispatch, Environment={"Variables": env})
        with session_scope() as session:
            for name in names.values():
                session.query(Workflow).filter(Workflow.name == name).update({"enabled": False})
        from bakery_sim.tenants import demo_tenants

        stack.simulator.state.set_tenants(demo_tenants())


def dispatch(stack: Any, workflow: str, at: str) -> dict[str, Any]:
    response = stack.cloud.client("lambda").invoke(
        FunctionName=stack.deployment.function_arns["dispatch"],
        Payload=json.dumps({"workflow_name": workflow, "time": at}).encode(),
    )
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


def finished_probe(stack: Any, machine: str, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The probe execution's input and the manifest ListTenants wrote; its run lock released as FinishRun
    would release it."""
    from chalicelib.adapters.locks import RunLocks

    sfn = stack.cloud.client("stepfunctions")
    arn = machine.replace(":stateMachine:", ":execution:") + f":{name}"
    deadline = time.monotonic() + 120
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{name} still running"
        time.sleep(0.2)
    assert described["status"] == "SUCCEEDED", described
    run_input = described["input"]
    manifest = stack.cloud.client("s3").get_object(
        Bucket=stack.deployment.manifest_bucket, Key=f"manifests/{name}.json"
    )
    request = json.loads(run_input)
    locks = RunLocks()
    locks.release(locks.key(request["workflow_name"], request["scope"]), name)
    return {"raw": run_input, **request}, json.loads(manifest["Body"].read())


def test_a_catalan_holiday_skips_only_catalan_tenants_with_a_small_input(stack: Any, probe: dict[str, Any]) -> None:
    # GIVEN 10,000 tenants in Europe/Madrid over three regions and a workflow whose holiday policy is skip
    workflow = probe["workflows"]["skip"]
    catalan = {t["id"] for t in probe["tenants"] if t["subdivision"] == "CT"}
    others = {t["id"] for t in probe["tenants"]} - catalan
    holiday = holidays.country_holidays("ES", subdiv="CT", years=2026)[DIADA]
    # WHEN the 08:00 firing of 11 September 2026 is dispatched (06:00 UTC, summer time)
    answer = dispatch(stack, workflow, "2026-09-11T06:00:00Z")
    # THEN one execution starts
    [run] = answer["runs"]
    assert run["outcome"] == "started" and run["execution_name"] == f"{workflow}-europe-madrid-2026-09-11"
    # AND the Catalan tenants are reported skipped with the holiday's name
    assert answer["skipped"] == [
        {
            "scope": "Europe/Madrid",
            "calendar": "ES-CT",
            "tenants": len(catalan),
            "instant": "2026-09-11T06:00:00+00:00",
            "local_date": "2026-09-11",
            "reason": "holiday",
            "holiday": holiday,
        }
    ]
    # AND the execution input is small: it names the calendars that run, not the tenants
    request, manifest = finished_probe(stack, probe["machine"], run["execution_name"])
    assert len(request["raw"].encode()) < INPUT_LIMIT
    assert request["calendars"] == ["ES-AN", "ES-MD"] and request["tenant_ids"] is None
    # AND the manifest holds exactly the non-Catalan tenants
    assert len(manifest) == len(others) and {t["id"] for t in manifest} == others


def test_next_business_day_runs_the_catalan_tenants_on_monday(stack: Any, probe: dict[str, Any]) -> None:
    # GIVEN the same tenants and a workflow whose holiday policy is next_business_day
    workflow = probe["workflows"]["next_business_day"]
    everyone = {t["id"] for t in probe["tenants"]}
    catalan = {t["id"] for t in probe["tenants"] if t["subdivision"] == "CT"}
    # WHEN 11 September is dispatched, THEN Madrid and Andalusia run and Catalonia's run is moved
    friday = dispatch(stack, workflow, "2026-09-11T06:00:00Z")
    assert [s["reason"] for s in friday["skipped"]] == ["holiday_moved"]
    request, manifest = finished_probe(stack, probe["machine"], friday["runs"][0]["execution_name"])
    assert {t["id"] for t in manifest} == everyone - catalan
    # WHEN Monday 14 September is dispatched (the 12th and 13th are the weekend)
    monday = dispatch(stack, workflow, "2026-09-14T06:00:00Z")
    # THEN one run covers every calendar, the Catalan tenants included, with a small input
    [run] = monday["runs"]
    assert run["outcome"] == "started" and run["execution_name"].endswith("2026-09-14")
    request, manifest = finished_probe(stack, probe["machine"], run["execution_name"])
    assert request["calendars"] is None and len(request["raw"].encode()) < INPUT_LIMIT
    assert {t["id"] for t in manifest} == everyone


@pytest.mark.parametrize("count", [10_000, 100_000])
def test_the_input_stays_small_whatever_the_tenant_count(count: int) -> None:
    # GIVEN count tenants over three regions, and the dispatcher's decision at 08:00 on the Diada
    tenants = [Tenant.model_validate(t) for t in regional_tenants(count)]
    [scope] = scheduling.scopes_of(tenants, fallback_zone="Europe/Madrid").values()
    workflow = Workflow(cron_expression="0 8 * * *", holiday_policy="skip", weekend_cron=None)
    due, skipped = decide(schedule_of(workflow), scope, datetime(2026, 9, 11, 6, 0, tzinfo=UTC))
    assert due is not None and [c.key for c, _ in skipped] == ["ES-CT"]
    # WHEN the run's input is built as the dispatcher builds it
    request = RunRequest(
        workflow_name="daily_operations",
        scope=scope.timezone,
        run_date=DIADA,
        calendars=run_calendars(scope, due),
        fencing_token=2**40,
        lock_key="x" * 100,
    )
    # THEN it stays under the fixed limit
    assert len(request.model_dump_json().encode()) < INPUT_LIMIT
