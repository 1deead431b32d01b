"""Chalice's stand-in for API Gateway (`chalice local`, `chalice.test.Client`) answers a path no route
matches with API Gateway's own 403 body (`{"message": "Missing Authentication Token"}`, or a signature
complaint that echoes the Authorization header). On AWS the template's gateway responses give that answer
the project's shape; `install()` does the same locally: 403 `{"error": "unknown_route", "message",
"field": null}`. (Chalice's 405 and 415 come from the app and are shaped by its middleware.)"""

from __future__ import annotations

import json
from typing import Any

EXPECTED_CHALICE = "1.34.0"


def unknown_route_body(method: str, path: str) -> bytes:
    route = path.split("?", 1)[0]
    return json.dumps(
        {"error": "unknown_route", "message": f"no route matches {method} {route}", "field": None}
    ).encode()


def install() -> None:
    """Patch `chalice.local.LocalGateway.handle_request` (idempotent); fails loudly when chalice moved."""
    import chalice
    from chalice import local

    if chalice.__version__ != EXPECTED_CHALICE or not hasattr(local.LocalGateway, "handle_request"):
        raise RuntimeError(
            f"localrun.gateway expects chalice {EXPECTED_CHALICE} with LocalGateway.handle_request; "
            f"found {chalice.__version__}: check the patch"
        )
    original = local.LocalGateway.handle_request
    if getattr(original, "__project_shape__", False):
        return

    def handle_request(self: Any, method: str, path: str, headers: Any, body: Any) -> Any:
        try:
            return original(self, method, path, headers, body)
        except local.ForbiddenError as exc:
            if not _unmatched(self, path):
                raise  # an authorizer's 403 keeps its own answer
            raise local.ForbiddenError(
                {**(exc.headers or {}), "Content-Type": "application/json"}, unknown_route_body(method, path)
            ) from None

    handle_request.__project_shape__ = True  # type: ignore[attr-defined]
    local.LocalGateway.handle_request = handle_request  # type: ignore[method-assign]


def _unmatched(gateway: Any, path: str) -> bool:
    try:
        gateway.event_converter._route_matcher.match_route(path)
    except ValueError:
        return True
    return False
