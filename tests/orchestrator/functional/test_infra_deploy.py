"""The boto3 deploy for emulators (`python -m infra.deploy`): the package it is given is uploaded, and every
function runs as its own role with the policy infra/policies.py describes. Against the local cloud of the
functional stack, as another stage (with the local cloud's definition adjustments, which the CLI, made
for LocalStack, does not apply)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from infra import policies
from infra.deploy import deploy, main
from localcloud.compat import adapt_definition


def test_the_deploy_uploads_the_package_and_gives_each_function_its_own_role(stack: Any, tmp_path: Path) -> None:
    # GIVEN a package (a zip standing for deployment.zip) and the stack's local cloud as the target
    package = tmp_path / "deployment.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "# the packaged app\n" * 50)
    package.write_bytes(buffer.getvalue())
    # WHEN it is deployed as stage "clidemo" without schedules
    clients = {name: stack.cloud.client(name) for name in ("lambda", "stepfunctions", "events", "iam", "s3")}
    deploy(
        clients,
        code=package.read_bytes(),
        stage="clidemo",
        environment={"STAGE": "clidemo"},
        adapt_definition=adapt_definition,
        reconcile_schedules=False,
    )
    lam, iam = clients["lambda"], clients["iam"]
    # THEN the functions carry that package, not a placeholder
    found = lam.get_function(FunctionName="bakery-orchestrator-clidemo-list_tenants")["Configuration"]
    assert found["CodeSize"] == len(buffer.getvalue())
    # AND each runs as a role of its own whose policy is the described one
    role = found["Role"].rsplit("/", 1)[1]
    assert role == "bakery-orchestrator-clidemo-list_tenants"
    document = iam.get_role_policy(RoleName=role, PolicyName="least-privilege")["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    actions = {a for s in document["Statement"] for a in s["Action"]}
    assert actions == {a for g in policies.grants_of("list_tenants") for a in g.actions}
    assert document["Statement"][1]["Resource"] == ["arn:aws:s3:::bakery-orchestrator-clidemo-manifests/manifests/*"]


def test_the_cli_refuses_a_missing_package_naming_it(tmp_path: Path, capsys: Any) -> None:
    # GIVEN no package / WHEN the CLI runs / THEN it stops before touching anything, saying what to do
    assert main(["--package", str(tmp_path / "missing.zip")]) == 2
    assert "run `make package` first" in capsys.readouterr().err
