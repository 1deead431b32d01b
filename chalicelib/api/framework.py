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


MAX_BODY_BYTES = 256 * 1024  # the largest body a route takes (1,000 tenant ids) is ~70 KiB
# Characters no identifier, query value or stored text may hold: NUL (Postgres refuses it in text and
# JSON) and the other C0 controls and DEL. Free text in bodies may still hold tab, newline and return.
_CONTROL = {chr(c) for c in range(32)} | {chr(127)}
_TEXT_CONTROL = _CONTROL - {"\t", "\n", "\r"}


def reject_control_characters(value: str, field: str, *, text: bool = False) -> str:
    if any(c in (_TEXT_CONTROL if text else _CONTROL) for c in value):
        raise ApiError(400, "validation_error", f"{field}: must not contain NUL or other control characters", field)
    return value


def _check_strings(data: Any, where: str) -> None:
    """Every string in a parsed JSON body (keys too), for control characters; the error names the path."""
    if isinstance(data, str):
        reject_control_characters(data, where or "body", text=True)
    elif isinstance(data, dict):
        for key, item in data.items():
            path = f"{where}.{key}" if where else str(key)
            reject_control_characters(str(key), "body", text=False)
            _check_strings(item, path)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            _check_strings(item, f"{where}.{index}" if where else str(index))


def parse_query(model: type[BaseModel], params: Any) -> BaseModel:
    values = dict(params or {})
    for name, value in values.items():
        reject_control_characters(str(name), "query")
        reject_control_characters(str(value), str(name))
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise validation_error(exc, "query") from None


def parse_body(model: type[BaseModel], raw: bytes | str | None, *, optional: bool) -> BaseModel | None:
    """The body as `model`, parsed from its JSON text (strict types: JSON's own, dates as ISO strings)."""
    if not raw or not raw.strip():
        if optional:
            return model.model_validate({})
        raise ApiError(400, "invalid_body", "a JSON object body is required", None)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", f"the body is larger than {MAX_BODY_BYTES // 1024} KiB", None)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON", None) from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object", None)
    _check_strings(data, "")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise validation_error(exc, "body") from None


def _authenticate(request: Any, auth: Auth) -> Any:
    from chalicelib.api.auth import AuthError, authenticate, is_scrape_token, require_role

    if auth == "public":
        # Anyone may call; a valid token (if one is sent) lets the route show its caller more.
        if not any(request.headers.get(h) for h in ("authorization", "Authorization")):
            return None
        try:
            return authenticate(request.headers)
        except AuthError:
            return None
    if auth == "scrape" and is_scrape_token(request.headers):
        return None
    try:
        principal = authenticate(request.headers)
        if auth in ("admin", "scrape"):
            require_role(principal, ["platform_admin"])
    except AuthError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return principal


def _database_unavailable(exc: Exception) -> bool:
    """The database went away under the request (restart, connection killed): a 503 to retry, not a 500."""
    from sqlalchemy import exc as sa_exc

    return isinstance(exc, sa_exc.OperationalError) or (
        isinstance(exc, sa_exc.DBAPIError) and bool(exc.connection_invalidated)
    )


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
                for name, value in path_params.items():
                    reject_control_characters(value, name)
                parsed_query = parse_query(query, request.query_params) if query else None
                parsed_body = parse_body(body, request.raw_body, optional=body_optional) if body else None
                return _render(fn(Call(principal, parsed_query, parsed_body), **path_params), status)
            except ApiError as exc:
                return exc.response()
            except Exception as exc:  # noqa: BLE001 - never Chalice's own 500 shape; the cause goes to the log
                from chalicelib.observability import get_logger

                if _database_unavailable(exc):
                    get_logger().warning("database unavailable", extra={"route": f"{method} {path}", "error": str(exc)})
                    return error(503, "dependency_unavailable", "the database is unavailable; try again shortly")
                get_logger().exception("unhandled error in route", extra={"route": f"{method} {path}"})
                return error(500, "internal_error", "unexpected error; see the service log")

        blueprint.route(path, methods=[method])(view)
        return fn

    return register


# Chalice answers some requests itself, before any route runs, with API Gateway's shape {"Code", "Message"}:
# a method the path does not have (405), a Content-Type the route does not take (415), a binary response
# the Accept header does not allow (400). The middleware gives them the project's shape.
_CHALICE_CODES = {400: "bad_request", 403: "forbidden", 405: "method_not_allowed", 415: "unsupported_media_type"}


def project_shape_middleware(event: Any, get_response: Callable[[Any], Response]) -> Response:
    """Chalice middleware ("http"): every answer Chalice made itself leaves in the one error shape."""
    response = get_response(event)
    body = response.body
    if response.status_code < 400 or not isinstance(body, dict) or set(body) != {"Code", "Message"}:
        return response
    status = response.status_code
    method = getattr(event, "method", "")
    if status == 405:
        allowed = response.headers.get("Allow", "")
        message = f"method {method} is not allowed here" + (f"; allowed: {allowed}" if allowed else "")
    elif status == 415:
        content_type = (getattr(event, "headers", None) or {}).get("content-type", "")
        message = f"Content-Type {content_type!r} is not accepted: send application/json"
    else:
        message = str(body.get("Message") or "request refused")
    answer = error(status, _CHALICE_CODES.get(status, "internal_error" if status >= 500 else "bad_request"), message)
    for name, value in response.headers.items():
        if name.lower() not in ("content-type", "content-length"):
            answer.headers[name] = value
    return answer
