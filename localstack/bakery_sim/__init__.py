"""Simulated bakery platform services for local runs and tests (not product code).

Start in-process with ``SimulatorServer().start()`` or from a shell with
``python -m bakery_sim --port 8019``.
"""

from __future__ import annotations

from .server import SimulatorServer
from .state import SERVICES, SimState
from .tenants import demo_tenants, enterprise_network, synthetic_tenants

__all__ = ["SERVICES", "SimState", "SimulatorServer", "demo_tenants", "enterprise_network", "synthetic_tenants"]
