"""REST routes (a Chalice blueprint mounted at /api/v1/orchestrator)."""

from chalicelib.api.routes import api

__all__ = ["api"]
