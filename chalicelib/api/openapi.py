"""The OpenAPI 3.1 document, generated from the registered operations and their pydantic models.

(Chalice itself emits only Swagger 2.0 without request bodies.) Query parameters come from the query
models' fields, bodies and responses from the models' JSON Schemas (draft 2020-12, which OpenAPI 3.1 uses).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.api.framework import OPERATIONS, Operation
from chalicelib.api.schemas import ErrorBody

REF = "#/components/schemas/{model}"
PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "execution_id": {"type": "string", "format": "uuid"},
    "workflow_id": {
        "type": "string",
        "minLength": 1,
        "maxLength": 100,
        "description": "the workflow's id (UUID) or its name",
    },
}
ERROR_TEXT = {
    400: "Invalid input (the message and `field` name the problem)",
    401: "Missing, invalid or expired token",
    403: "The token's role may not do this",
    404: "Not found (or not visible to this tenant)",
    409: "Conflicts with the current state",
    422: "Well-formed but refers to what cannot be processed",
    503: "A dependency is unavailable",
}


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: drop the null branch and the null default."""
    schema = {k: v for k, v in schema.items() if not (k == "default" and v is None)}
    branches = schema.get("anyOf")
    if branches:
        kept = [b for b in branches if b != {"type": "null"}]
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        schema = {**kept[0], **rest} if len(kept) == 1 else {**rest, "anyOf": kept}
    return schema


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null(prop)
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k not in ("title", "description")},
        }
        if prop.get("description"):
            param["description"] = prop["description"]
        params.append(param)
    return params


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": PATH_SCHEMAS.get(name, {"type": "string"})}
        for name in PATH_PARAM.findall(path)
    ]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(op: Operation, refs: dict[tuple[type[BaseModel], str], dict[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": list(op.tags)}
    if op.description and op.description != op.summary:
        doc["description"] = op.description
    params = _path_parameters(op.full_path) + (_query_parameters(op.query) if op.query else [])
    if params:
        doc["parameters"] = params
    if op.body is not None:
        doc["requestBody"] = {"required": not op.body_optional, "content": _json(refs[(op.body, "validation")])}
    responses: dict[str, Any] = {}
    for status, model in sorted(op.responses.items()):
        if isinstance(model, str):
            schema = {"type": "string"} if model.startswith("text/") else {"type": "object"}
            responses[str(status)] = {"description": "OK", "content": {model: {"schema": schema}}}
        else:
            text = "OK" if status < 300 else ERROR_TEXT.get(status, "Error")
            responses[str(status)] = {"description": text, "content": _json(refs[(model, "serialization")])}
    errors = set(op.errors)
    if op.auth != "public":
        errors.add(401)
    if op.auth in ("admin", "scrape"):
        errors.add(403)
    if op.query is not None or op.body is not None or PATH_PARAM.search(op.full_path):
        errors.add(400)
    for status in sorted(errors - set(op.responses)):
        responses[str(status)] = {
            "description": ERROR_TEXT.get(status, "Error"),
            "content": _json(refs[(ErrorBody, "serialization")]),
        }
    doc["responses"] = responses
    doc["security"] = [] if op.auth == "public" else [{"bearerAuth": []}]
    if op.auth != "public":
        doc["description"] = (
            doc.get("description", "")
            + "\n\n"
            + {
                "admin": "Needs role platform_admin.",
                "scrape": "Needs role platform_admin, or the METRICS_TOKEN bearer token (for Prometheus).",
                "any": "Any valid token; a tenant's token sees only that tenant's executions and logs.",
            }[op.auth]
        ).strip()
    return doc


@cache
def build_document() -> dict[str, Any]:
    wanted: list[tuple[type[BaseModel], str]] = [(ErrorBody, "serialization")]
    for op in OPERATIONS:
        if op.body is not None:
            wanted.append((op.body, "validation"))
        wanted.extend((m, "serialization") for m in op.responses.values() if not isinstance(m, str))
    unique = list(dict.fromkeys(wanted))
    refs, defs = models_json_schema(unique, ref_template=REF)  # type: ignore[arg-type]
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.full_path, {})[op.method.lower()] = _operation(op, refs)  # type: ignore[arg-type]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Bakery orchestrator API",
            "version": "1.0.0",
            "description": "Workflows, executions, schedule, health and metrics of the bakery orchestrator. "
            'Errors: {"error": code, "message": ..., "field": ...}.',
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearerAuth": []}],
    }
