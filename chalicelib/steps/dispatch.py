"""The dispatch Lambda (target of the schedule rules): parse the firing, hand it to `services.dispatch`."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from chalicelib.domain.models import Trigger
from chalicelib.errors import InvalidInputError
from chalicelib.services import dispatch as service
from chalicelib.steps.common import parse


class DispatchInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    workflow_name: str | None = Field(default=None, min_length=1, max_length=100)
    time: AwareDatetime
    event_id: str | None = None
    trigger: Trigger = "scheduled"
    scopes: list[str] | None = None  # the zones the firing rule covers (informational)
    sweep: bool = False  # the catch-up sweep rule: every enabled workflow, missed instants only

    @model_validator(mode="after")
    def _workflow_unless_sweep(self) -> DispatchInput:
        if not self.sweep and not self.workflow_name:
            raise ValueError("workflow_name is required (or sweep: true)")
        return self


def dispatch(event: Any, *, leader_election: bool | None = None) -> dict[str, Any]:
    """`leader_election` overrides ENABLE_LEADER_ELECTION (explicit beats env)."""
    data = parse(DispatchInput, event)
    if data.sweep:
        return service.sweep(data.time, event_id=data.event_id, leader_election=leader_election)
    if data.workflow_name is None:  # the validator requires it unless sweeping
        raise InvalidInputError("DispatchInput: workflow_name is required (or sweep: true)")
    return service.dispatch(
        data.workflow_name, data.time, event_id=data.event_id, trigger=data.trigger, leader_election=leader_election
    )
