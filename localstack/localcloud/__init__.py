"""Local cloud emulator: moto server + in-process Lambda runner + EventBridge clock."""

from __future__ import annotations

from localcloud.clock import (
    EventBridgeClock,
    Firing,
    Schedule,
    ScheduleError,
    parse_schedule,
)
from localcloud.lambda_runner import LambdaContext, invoke_handler
from localcloud.patches import apply as apply_patches
from localcloud.patchpoints import PatchPointMoved
from localcloud.server import LocalCloud

__all__ = [
    "EventBridgeClock",
    "Firing",
    "LambdaContext",
    "LocalCloud",
    "PatchPointMoved",
    "Schedule",
    "ScheduleError",
    "apply_patches",
    "invoke_handler",
    "parse_schedule",
]
