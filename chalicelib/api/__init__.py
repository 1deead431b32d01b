"""REST routes: `api` (mounted at /api/v1/orchestrator) and `docs` (/openapi.json, at the root).

`framework.operation` registers a route with its auth, models and OpenAPI entry; `commands` holds what the
write routes do; `auth`, `health`, `metrics` and `openapi` hold the rest."""

from chalicelib.api.routes import api, docs

__all__ = ["api", "docs"]
