"""CLI: ``python -m bakery_sim --host 127.0.0.1 --port 8019 --tenants demo|demo+network|N``."""

from __future__ import annotations

import argparse
import signal
import threading

from .server import SimulatorServer
from .tenants import demo_tenants, enterprise_network, synthetic_tenants


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bakery_sim", description="Simulated bakery platform services")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8019)
    parser.add_argument(
        "--tenants",
        default="demo",
        help="'demo', 'demo+network' (the demo and the 50-outlet enterprise network) or a number of synthetic tenants",
    )
    args = parser.parse_args(argv)
    if args.tenants == "demo":
        tenants = demo_tenants()
    elif args.tenants == "demo+network":
        tenants = demo_tenants() + enterprise_network()
    elif args.tenants.isdigit():
        tenants = synthetic_tenants(int(args.tenants))
    else:
        parser.error("--tenants must be 'demo', 'demo+network' or a non-negative integer")

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    server = SimulatorServer(args.host, args.port, tenants).start()
    print(server.url, flush=True)  # the one line wrappers wait for
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
