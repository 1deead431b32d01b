"""Applies the runtime patches that make moto 5.2.5 usable as the project's local cloud.

Each patch module declares its patch points (`POINTS`, see localcloud.patchpoints) and an `install()`.
This module is the only one that imports them all; they import only localcloud.patchpoints (and
cloudformation the definition adjustments of localcloud.compat).

- lambda_runner: run Lambda handlers in-process instead of in Docker;
- map_workers: Map workers as loops instead of one recursive call per item;
- quiet_logs: no ERROR dump for every task failure that Retry/Catch handle;
- map_runs: Distributed Map children listed and readable as on AWS;
- speedups: the interpreter's own overhead (off with LOCALCLOUD_SPEEDUPS=0, the benchmark's stock peer);
- cloudformation: a stack's state machine read as AWS reads it (on the executing backend) and its custom
  resources' ResponseURL on the local cloud itself;
- iam: IAM checked per resource for Step Functions, EventBridge and Secrets Manager when enforced.
"""

from __future__ import annotations

import os
import threading
from types import ModuleType

from localcloud import cloudformation, iam, lambda_runner, map_runs, map_workers, quiet_logs, speedups
from localcloud.patchpoints import PatchPoint

ALL_MODULES: tuple[ModuleType, ...] = (
    lambda_runner,
    map_workers,
    quiet_logs,
    map_runs,
    speedups,
    cloudformation,
    iam,
)
PATCH_POINTS: tuple[PatchPoint, ...] = tuple(point for module in ALL_MODULES for point in module.POINTS)

_lock = threading.Lock()
_applied = False


def _enabled_modules() -> tuple[ModuleType, ...]:
    if os.environ.get("LOCALCLOUD_SPEEDUPS", "1") == "0":
        return tuple(module for module in ALL_MODULES if module is not speedups)
    return ALL_MODULES


def check_patch_points() -> list[str]:
    """Check every patch point without changing anything; return their names."""
    for point in PATCH_POINTS:
        point.check()
    return [point.name for point in PATCH_POINTS]


def apply() -> None:
    """Install the enabled patches once (idempotent, thread-safe)."""
    global _applied
    with _lock:
        if _applied:
            return
        modules = _enabled_modules()
        # Check everything first so that a moved patch point leaves moto untouched.
        for module in modules:
            for point in module.POINTS:
                point.check()
        for module in modules:
            module.install()
        _applied = True


def is_applied() -> bool:
    return _applied
