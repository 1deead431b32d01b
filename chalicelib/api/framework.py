"""The thin layer between Chalice and the route functions: authentication, parsing, errors, documentation.

`@operation(...)` registers a Chalice route *and* records what the OpenAPI document needs (query and body
models, response models, auth). The route function receives a `Call` (caller, parsed query, parsed body)
plus its path parameters, calls one function in chalicelib and returns a pydantic model (or `Text`); every
error leaves as `{"error": code, "message": ..., "field": ...}`, never as Chalice's own shape.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

API_PREFIX = "/api/v1/orchestrator"
JSON_HEADERS = {"Content-Type": "application/json"}

# "scrape": an admin token, or the METRICS_TOKEN bearer Prometheus is configured with.
Auth = Literal["public", "admin", "any", "scrape"]
Q = TypeVar("Q")
B = TypeVar("B")


class ApiError(Exception):
    """A response in the one error shape. Raised anywhere below a route; mapped by `operation`."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field

    def response(self) -> Response:
        return error(self.status, self.code, self.message, self.field)


def error(status: int, code: str, message: str, field: str | None = None) -> Response:
    headers: dict[str, str | list[str]] = dict(JSON_HEADERS)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="bakery-orchestrator"'
    return Response(status_code=status, body={"error": code, "message": message, "field": field}, headers=headers)


def not_found(what: str, ident: str, field: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} {ident} not found", field)


def conflict(code: str, message: str, field: str | None = None) -> ApiError:
    return ApiError(409, code, message, field)


def bad_request(message: str, field: str | None, code: str = "invalid_parameter") -> ApiError:
    return ApiError(400, code, message, field)


@dataclass(frozen=True)
class Text:
    """A non-JSON body (the Prometheus exposition)."""

    body: str
    content_type: str = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class Call(Generic[Q, B]):
    principal: Any  # chalicelib.api.auth.Principal | None for public routes
    query: Q
    body: B


@dataclass
class Operation:
    path: str  # relative to the blueprint's prefix
    method: str
    function: Callable[..., Any]
    summary: str
    tags: tuple[str, ...]
    auth: Auth
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    responses: dict[int, type[BaseModel] | str]  # model, or a media type for non-JSON bodies
    status: int
    prefix: str
    description: str = ""
    errors: tuple[int, ...] = field(default_factory=tuple)
    body_optional: bool = False

    @property
    def full_path(self) -> str:
        return f"{self.prefix}{self.path}" if self.path != "/" else self.prefix or "/"

    @property
    def operation_id(self) -> str:
        return self.function.__name__


OPERATIONS: list[Operation] = []


def _field_of(err: Any) -> str | None:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
    return ".".join(loc) or None


def _message_of(err: Any, where: str) -> str:
    name = _field_of(err)
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    if name and msg.startswith(f"{name}: "):
        return msg
    return f"{name}: {msg}" if name else f"{where}: {msg}"


def validation_error(exc: ValidationError, where: str) -> ApiError:
    first = exc.errors()[0]
    message = "; ".join(_message_of(e, where) for e in exc.errors()[:5])
    return ApiError(400, "validation_error", message, _field_of(first))


def parse_query(model: type[BaseModel], params: Any) -> BaseModel:
    try:
        return model.model_validate(dict(params or {}))
    except ValidationError as exc:
        raise validation_error(exc, "query") from None


def parse_body(model: type[BaseModel], raw: bytes | str | None, *, optional: bool) -> BaseModel | None:
    if not raw or not raw.strip():
        if optional:
            return model.model_validate({})
        raise ApiError(400, "invalid_body", "a JSON object body is required", None)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON", None) from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object", None)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, "body") from None


def _authenticate(request: Any, auth: Auth) -> Any:
    if auth == "public":
        return None
    from chalicelib.api.auth import AuthError, authenticate, is_scrape_token, require_role

    if auth == "scrape" and is_scrape_token(request.headers):
        return None
    try:
        principal = authenticate(request.headers)
        if auth in ("admin", "scrape"):
            require_role(principal, ["platform_admin"])
    except AuthError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return principal


def _render(result: Any, status: int) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, Text):
        return Response(status_code=status, body=result.body, headers={"Content-Type": result.content_type})
    body = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
    return Response(status_code=status, body=body, headers=dict(JSON_HEADERS))


def operation(
    blueprint: Blueprint,
    path: str,
    method: str = "GET",
    *,
    summary: str,
    tags: tuple[str, ...] = (),
    auth: Auth = "admin",
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    body_optional: bool = False,
    response: type[BaseModel] | str | None = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    prefix: str = API_PREFIX,
    description: str = "",
    also: dict[int, type[BaseModel]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a route. `errors` lists the error statuses it may answer (documented with the error shape);
    `also` documents other statuses that answer with a model (e.g. 503 Health)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        responses: dict[int, type[BaseModel] | str] = dict(also or {})
        if response is not None:
            responses[status] = response
        OPERATIONS.append(
            Operation(
                path=path,
                method=method,
                function=fn,
                summary=summary,
                tags=tags,
                auth=auth,
                query=query,
                body=body,
                responses=responses,
                status=status,
                prefix=prefix,
                description=description or (fn.__doc__ or "").strip(),
                errors=errors,
                body_optional=body_optional,
            )
        )

        @functools.wraps(fn)
        def view(**path_params: str) -> Response:
            request = blueprint.current_request
            try:
                principal = _authenticate(request, auth)
                parsed_query = parse_query(query, request.query_params) if query else None
                parsed_body = parse_body(body, request.raw_body, optional=body_optional) if body else None
                return _render(fn(Call(principal, parsed_query, parsed_body), **path_params), status)
            except ApiError as exc:
                return exc.response()
            except Exception:  # noqa: BLE001 - never Chalice's own 500 shape; the cause goes to the log
                from chalicelib.observability import get_logger

                get_logger().exception("unhandled error in route", extra={"route": f"{method} {path}"})
                return error(500, "internal_error", "unexpected error; see the service log")

        blueprint.route(path, methods=[method])(view)
        return fn

    return register
