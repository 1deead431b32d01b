"""The one description of the deployed resources, shared by the AWS template and the local cloud.

Functions come from `app.py` (names, handlers) and `.chalice/config.json` (timeouts, memory, env, per
stage); state machines from `statemachines/*.asl.json`; the fixed EventBridge rules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from chalicelib.domain.constants import APP_NAME
from chalicelib.settings import PROJECT_ROOT, Settings

CHALICE_CONFIG = PROJECT_ROOT / ".chalice" / "config.json"
STATE_MACHINE_DIR = PROJECT_ROOT / "statemachines"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # the Chalice name, e.g. "generate_forecasts"
    handler: str  # e.g. "app.generate_forecasts"
    timeout: int
    memory: int
    environment: dict[str, str]

    def physical_name(self, stage: str) -> str:
        return f"{APP_NAME}-{stage}-{self.name}"  # Chalice's own naming

    @property
    def logical_id(self) -> str:
        return pascal(self.name)  # Chalice's SAM logical id


@dataclass(frozen=True)
class StateMachineSpec:
    workflow: str
    definition_path: Path
    type: str = "STANDARD"

    @property
    def logical_id(self) -> str:
        return f"{pascal(self.workflow)}StateMachine"

    def physical_name(self, stage: str) -> str:
        return f"{APP_NAME}-{stage}-{self.workflow}"

    @property
    def arn_env_var(self) -> str:
        return f"{self.workflow.upper()}_STATE_MACHINE_ARN"

    def definition(self) -> str:
        return self.definition_path.read_text(encoding="utf-8")

    def placeholders(self) -> set[str]:
        return set(PLACEHOLDER.findall(self.definition()))


@dataclass(frozen=True)
class RuleSpec:
    name: str
    schedule_expression: str
    target_function: str
    description: str = ""
    input: str | None = None
    input_transformer: dict[str, Any] | None = field(default=None)

    @property
    def logical_id(self) -> str:
        return pascal(self.name.replace("-", "_")) + "Rule"


def manifest_bucket_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}-manifests"


def pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_") if part)


def placeholder_for(function_name: str) -> str:
    """`generate_forecasts` -> `GenerateForecastsFunctionArn` (the ASL's ${...} name)."""
    return f"{pascal(function_name)}FunctionArn"


def functions(stage: str = "local") -> list[FunctionSpec]:
    from chalice.config import Config

    from app import app

    disk = json.loads(CHALICE_CONFIG.read_text(encoding="utf-8"))
    specs = []
    for fn in app.pure_lambda_functions:
        config = Config(chalice_stage=stage, function_name=fn.name, config_from_disk=disk)
        specs.append(
            FunctionSpec(
                name=fn.name,
                handler=fn.handler_string,
                timeout=int(config.lambda_timeout),
                memory=int(config.lambda_memory_size),
                environment=dict(config.environment_variables),
            )
        )
    return specs


def state_machines() -> list[StateMachineSpec]:
    return [StateMachineSpec("daily_operations", STATE_MACHINE_DIR / "daily_operations.asl.json")]


def substitutions(machine: StateMachineSpec, arn_of: dict[str, str]) -> dict[str, str]:
    """Placeholder -> value, given each function's ARN by function name. Fails on a missing one."""
    values = {placeholder_for(name): arn for name, arn in arn_of.items()}
    missing = machine.placeholders() - values.keys()
    if missing:
        raise KeyError(f"{machine.definition_path.name}: no value for placeholders {sorted(missing)}")
    return {name: values[name] for name in machine.placeholders()}


class _ConfiguredSettings(Settings):
    """Settings from the given values only, not from this process's environment."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def stage_settings(stage: str, environment: dict[str, str] | None = None) -> Settings:
    """The settings a stage's functions see: its `.chalice/config.json` environment (plus `environment`),
    not this process's (what is packaged depends on the configuration only)."""
    env = {**functions(stage)[0].environment, **(environment or {})}
    fields: dict[str, Any] = {k.lower(): v for k, v in env.items() if k.lower() in Settings.model_fields}
    fields.pop("stage", None)  # the stage's own rules (its secrets) are checked where it runs, not here
    return _ConfiguredSettings(**fields)


def packaged_definition(
    machine: StateMachineSpec, stage: str = "prod", environment: dict[str, str] | None = None
) -> str:
    """The ASL file with its workflow's seeded retry policy (from the stage's settings) written in; the
    placeholders stay for DefinitionSubstitutions or the deploy."""
    from chalicelib.domain.retry import with_tenant_retry
    from chalicelib.domain.workflows import default_workflows

    seeded = {w["name"]: w for w in default_workflows(stage_settings(stage, environment))}.get(machine.workflow)
    if seeded is None:
        return machine.definition()
    return with_tenant_retry(
        machine.definition(), max_retries=seeded["max_retries"], delay_seconds=seeded["retry_delay_seconds"]
    )


def render_definition(
    machine: StateMachineSpec, values: dict[str, str], stage: str = "prod", environment: dict[str, str] | None = None
) -> str:
    """What the deploy puts into Step Functions: the packaged definition with every ARN filled in."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], packaged_definition(machine, stage, environment))


def rules() -> list[RuleSpec]:
    """The fixed rules every stage has (the outbox drain and watchdog). The workflows' schedule rules
    (`sched-*`) are not here: `chalicelib.services.scheduling.reconcile_rules` derives them from the
    workflows table at run time."""
    return [
        RuleSpec(
            name="outbox-drain",
            schedule_expression="rate(1 minute)",
            target_function="publish_events",
            description="Publishes any event left in the outbox (after the watchdog stopped overdue runs)",
            input='{"source": "schedule"}',
        )
    ]
