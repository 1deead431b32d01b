"""Step cold start, measured in a fresh interpreter: `import app`, then the first call of one step handler.

Imports nothing of the project before the clock starts (the parent passes the event and the environment).
"""

from __future__ import annotations

import json
import sys
import time


class _Context:
    function_name = "generate_forecasts"
    aws_request_id = "bench-coldstart"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:generate_forecasts"

    def get_remaining_time_in_millis(self) -> int:
        return 25_000


def main(argv: list[str]) -> int:
    event = json.loads(argv[2])  # argv: [this, "coldstart", event]
    modules_before = len(sys.modules)
    started = time.perf_counter()
    import app

    imported = time.perf_counter()
    result = app.generate_forecasts(event, _Context())
    called = time.perf_counter()
    warm = []
    for _ in range(3):  # the same step again on the warm container (cached result: idempotency)
        t = time.perf_counter()
        app.generate_forecasts(event, _Context())
        warm.append((time.perf_counter() - t) * 1000)
    print(
        "BENCH-RESULT "
        + json.dumps(
            {
                "import_ms": round((imported - started) * 1000, 1),
                "first_call_ms": round((called - imported) * 1000, 1),
                "warm_call_ms": round(min(warm), 2),
                "modules_loaded": len(sys.modules) - modules_before,
                "result_keys": sorted(result),
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
