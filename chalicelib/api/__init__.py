"""REST routes: `api` (mounted at /api/v1/orchestrator) and `docs` (/openapi.json, at the root)."""

from chalicelib.api.routes import api, docs

__all__ = ["api", "docs"]
