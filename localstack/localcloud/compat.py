"""Definition adjustments for what moto 5.2.5's ASL parser cannot read, applied only on the local cloud.

- A Distributed Map's `ProcessorConfig.ExecutionType: EXPRESS` fails to parse ("expecting STANDARD").
  On the emulator the child executions run the same states either way; AWS keeps EXPRESS (cheaper:
  billed by duration, not per transition). A test checks that moto still rejects EXPRESS, so this shim is
  removed as soon as it is no longer needed.
"""

from __future__ import annotations

import json
from typing import Any


def _walk(node: Any) -> None:
    if isinstance(node, dict):
        config = node.get("ProcessorConfig")
        if isinstance(config, dict) and config.get("ExecutionType") == "EXPRESS":
            config["ExecutionType"] = "STANDARD"
        for value in node.values():
            _walk(value)
    elif isinstance(node, list):
        for value in node:
            _walk(value)


def adapt_definition(definition: str) -> str:
    document = json.loads(definition)
    _walk(document)
    return json.dumps(document)
