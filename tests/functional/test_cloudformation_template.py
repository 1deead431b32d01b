"""The CloudFormation side of the one description: the merge template renders, `chalice package`
accepts it offline, and the packaged SAM template wires the same functions, ASL and rules the local
cloud deploys."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from infra import resources, template

ROOT = Path(__file__).resolve().parents[2]


def test_merge_template_wires_every_placeholder_and_function() -> None:
    # GIVEN the rendered merge template
    rendered = template.render("prod")["Resources"]
    machine = rendered["DailyOperationsStateMachine"]["Properties"]
    # THEN every ${Placeholder} of the ASL has a substitution naming a packaged function's ARN
    spec = resources.state_machines()[0]
    assert set(machine["DefinitionSubstitutions"]) == spec.placeholders()
    logical_ids = {f.logical_id for f in resources.functions("prod")}
    assert {v["Fn::GetAtt"][0] for v in machine["DefinitionSubstitutions"].values()} <= logical_ids
    assert machine["DefinitionString"] == spec.definition()
    # AND every function (and the API handler) learns the state machine ARN and the manifest bucket
    for logical_id in [*logical_ids, "APIHandler"]:
        variables = rendered[logical_id]["Properties"]["Environment"]["Variables"]
        assert {"DAILY_OPERATIONS_STATE_MACHINE_ARN", "MANIFEST_BUCKET", "DISPATCH_FUNCTION_ARN"} <= set(variables)
    # AND the static rules (not the reconciled schedules) are there with their permissions
    rules = [r for r in resources.rules() if not r.name.startswith("sched-")]
    assert rules
    for rule in rules:
        assert rendered[rule.logical_id]["Properties"]["ScheduleExpression"] == rule.schedule_expression
        assert rendered[rule.logical_id + "Permission"]["Properties"]["Principal"] == "events.amazonaws.com"


def test_chalice_package_merges_the_template(tmp_path: Path) -> None:
    # GIVEN the merge template written by the CLI
    merge = tmp_path / "merge.json"
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-west-1", "AWS_EC2_METADATA_DISABLED": "true",
           "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "localstack")])}
    subprocess.run([sys.executable, "-m", "infra.template", str(merge)], cwd=ROOT, env=env, check=True)
    # WHEN chalice packages the app with it (offline)
    out = tmp_path / "pkg"
    chalice = shutil.which("chalice", path=str(Path(sys.executable).parent))
    assert chalice is not None
    done = subprocess.run([chalice, "package", "--stage", "prod", "--merge-template", str(merge), str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    # THEN the SAM template has Chalice's functions with our wiring merged in, and the state machine
    sam = json.loads((out / "sam.json").read_text())["Resources"]
    assert sam["Dispatch"]["Type"] == "AWS::Serverless::Function"
    assert sam["Dispatch"]["Properties"]["Handler"] == "app.dispatch"
    assert "MANIFEST_BUCKET" in sam["GenerateForecasts"]["Properties"]["Environment"]["Variables"]
    assert sam["GenerateForecasts"]["Properties"]["Environment"]["Variables"]["STAGE"] == "prod"
    assert sam["DailyOperationsStateMachine"]["Type"] == "AWS::StepFunctions::StateMachine"
    assert (out / "deployment.zip").stat().st_size > 0
