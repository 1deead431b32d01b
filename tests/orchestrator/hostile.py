"""The hostile-input suite's catalogue and runner, shared by SQLite (functional) and Postgres (integration).

Every registered route (`chalicelib.api.framework.OPERATIONS`, so routes added later are covered by
themselves) x every role x a catalogue of bad values for each of its inputs (path parameters, query
parameters, body fields, whole bodies): out-of-range and malformed dates and instants, cursors, UUIDs, NUL
and control characters, huge numbers and strings, wrong JSON types, SQL-looking strings, rare and
impossible crons, bad timezones. Each answer must be below 500; an error must be in the one shape and say
nothing internal; values a field cannot hold must be refused (4xx); and a normal request right after each
one must still answer correctly.

Sampling keeps it quick: every value runs under a role allowed to reach the route's validation (values
rotate over the tenant roles on routes any token may call); roles the route refuses get a few values each
(they must get 401/403).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from tests.orchestrator.api import Api, internals_in, token_for

PROBE = "hostile_probe"  # a workflow no state machine runs: a write that passes validation runs nothing
UNKNOWN_EXECUTION = "00000000-0000-4000-8000-000000000000"
TENANT_ROLES = ("tenant_user", "tenant_admin")
PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
REJECT, ANY = True, False  # must the value be refused, or may it be accepted (a valid oddity)?


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


CONTROL = ["\x00", "a\x00b", "\x1b[31mred", "line\nbreak", "\x7f"]
HUGE = "9" * 400
SQL = "' OR '1'='1'; DROP TABLE orchestrator_workflows; --"
# Query and path values (text on the wire), per kind of input.
TEXT_VALUES: dict[str, list[tuple[str, bool]]] = {
    "int": [("", REJECT), ("abc", REJECT), ("1.5", REJECT), ("-1", REJECT), (HUGE, REJECT), ("1e309", REJECT)],
    "date": [
        ("", REJECT),
        ("yesterday", REJECT),
        ("0001-01-01", REJECT),
        ("9999-12-31", REJECT),
        ("0000-00-00", REJECT),
        ("2026-02-30", REJECT),
        ("1999-12-31", REJECT),
        ("2100-01-01", REJECT),
    ],
    "datetime": [
        ("", REJECT),
        ("now", REJECT),
        ("2028-01-01T00:00:00", REJECT),
        ("0001-01-01T00:00:00Z", REJECT),
        ("9999-12-31T23:59:00Z", REJECT),
        ("0001-01-01T00:00:00+14:00", REJECT),
        ("9999-12-31T23:59:59-14:00", REJECT),
        ("2028-02-30T00:00:00Z", REJECT),
        (HUGE, REJECT),
    ],
    "enum": [("", REJECT), ("bogus", REJECT), ("COMPLETED", REJECT), (SQL, REJECT)],
    "name": [
        ("", REJECT),
        ("Bad Name", REJECT),
        ("a" * 70, REJECT),
        ("1abc", REJECT),
        ("d\u0430ily", REJECT),
        (SQL, REJECT),
    ],
    "tenant": [("", REJECT), ("a" * 65, REJECT), ("t 1", REJECT), ("../x", REJECT), ("\u00fc", REJECT), (SQL, REJECT)],
    "cursor": [
        ("garbage", REJECT),
        ("", REJECT),
        ("=" * 12, REJECT),
        ("a" * 401, REJECT),
        (_cursor(["0001-01-01T00:00:00+14:00", str(uuid.uuid4())]), REJECT),
        (_cursor(["9999-12-31T23:59:59-14:00", str(uuid.uuid4())]), REJECT),
        (_cursor(["2026-12-01T00:00:00", str(uuid.uuid4())]), REJECT),
        (_cursor(["2026-12-01T00:00:00+00:00", 12345]), REJECT),
        (_cursor(["2026-12-01T00:00:00+00:00", None]), REJECT),
        (_cursor({"a": 1}), REJECT),
        (_cursor("x"), REJECT),
    ],
    "timezone": [
        ("", REJECT),
        ("Mars/Olympus", REJECT),
        ("../../../etc/passwd", REJECT),
        ("Europe/Madrid ", REJECT),
        ("Europe//Madrid", REJECT),
        ("a" * 65, REJECT),
    ],
    "execution_id": [("not-a-uuid", REJECT), ("0" * 33, REJECT), (HUGE, REJECT), (SQL, REJECT), ("%00", REJECT)],
    "workflow_id": [
        ("Bad Name", REJECT),
        ("a" * 101, REJECT),
        ("..", REJECT),
        (SQL, REJECT),
        ("%00", REJECT),
        ("daily_operations%20", REJECT),
    ],
    "text": [(SQL, ANY), ("a" * 300, ANY)],
}
# Body field values (JSON), per kind of input. None stands for JSON null.
JSON_VALUES: dict[str, list[tuple[Any, bool]]] = {
    "int": [
        ("3", REJECT),
        (3.5, REJECT),
        (True, REJECT),
        (-1, REJECT),
        (10**30, REJECT),
        ([], REJECT),
        ("1e3", REJECT),
    ],
    "bool": [("yes", REJECT), (1, REJECT), (0, REJECT), ("true", REJECT), ([], REJECT)],
    "date": [
        ("0001-01-01", REJECT),
        ("9999-12-31", REJECT),
        ("2031-12-31", REJECT),
        ("2026-02-30", REJECT),
        ("yesterday", REJECT),
        (20261201, REJECT),
    ],
    "enum": [("bogus", REJECT), (1, REJECT), ([], REJECT), (SQL, REJECT)],
    "name": [
        ("Bad Name", REJECT),
        ("a" * 70, REJECT),
        (1, REJECT),
        ([], REJECT),
        (SQL, REJECT),
        ("d\u0430ily", REJECT),
    ],
    "cron": [
        ("every morning", REJECT),
        ("61 8 * * *", REJECT),
        ("* * * * * *", REJECT),
        ("0 0 30 2 *", REJECT),
        ("0 0 31 4 *", REJECT),
        ("0 0 * 2 1#5", REJECT),
        ("*/0 * * * *", REJECT),
        ("a" * 101, REJECT),
        (5, REJECT),
        ("* * 29 2 *", ANY),
        ("* * * * *", ANY),
        ("0 0 29 2 1", ANY),
    ],
    "weekend_cron": [("every weekend", REJECT), ("0 0 30 2 *", REJECT), (5, REJECT), ("SKIP", REJECT)],
    "timezone": [("Mars/Olympus", REJECT), ("../../../etc/passwd", REJECT), ("Europe/Madrid ", REJECT), (1, REJECT)],
    "steps": [
        ([], REJECT),
        ("send_daily_summary", REJECT),
        (["a", "a"], REJECT),
        (["Bad Step"], REJECT),
        ([1], REJECT),
        (["s"] * 51, REJECT),
    ],
    "tenant_ids": [
        ([], REJECT),
        (["' OR 1=1"], REJECT),
        (["a" * 65], REJECT),
        ("t1", REJECT),
        ([1], REJECT),
        ([None], REJECT),
        ([f"t{n}" for n in range(1001)], REJECT),
    ],
    "text": [
        (SQL, ANY),
        ("<script>alert(1)</script>", ANY),
        ("\u00fc\u6f22\U0001f642\u202e", ANY),
        ("a" * 2001, REJECT),
        (5, REJECT),
        ([], REJECT),
    ],
    "list": [
        ([], REJECT),
        ({}, REJECT),
        ("x", REJECT),
        ([1], REJECT),
        ([{}], REJECT),
        ([{"workflow_name": SQL}], REJECT),
    ],
    "unknown": [(None, ANY), (1, ANY), ("x" * 5000, ANY)],
}
# Whole bodies (raw bytes, extra headers): none of them is a body any route takes.
RAW_BODIES: list[tuple[bytes, dict[str, str]]] = [
    (b"{not json", {}),
    (b"[1, 2]", {}),
    (b'"text"', {}),
    (b"null", {}),
    (b"\xff\xfe\x00", {}),
    (b"[" * 50_000 + b"]" * 50_000, {}),
    (b'{"description": "' + b"x" * 300_000 + b'"}', {}),
    (b'{"a": 1' + b"9" * 5000 + b"}", {}),
    (b'{"description": "fine"}', {"Content-Type": "text/plain"}),
]

_FIELD_KINDS = {
    "workflow": "name",
    "name": "name",
    "workflow_name": "name",
    "step_name": "name",
    "tenant_id": "tenant",
    "tenant_after": "tenant",
    "cursor": "cursor",
    "scope": "timezone",
    "timezone": "timezone",
    "cron_expression": "cron",
    "weekend_cron": "weekend_cron",
    "description": "text",
    "steps": "steps",
    "tenant_ids": "tenant_ids",
    "workflows": "list",
}


def kind_of(name: str, schema: dict[str, Any]) -> str:
    """The kind of an input from its JSON schema (type, format, enum), else from its name."""
    branches = [b for b in schema.get("anyOf", [schema]) if b.get("type") != "null"]
    branch = branches[0] if branches else {}
    if "enum" in branch or "const" in branch:
        return "enum"
    if branch.get("type") == "integer":
        return "int"
    if branch.get("type") == "boolean":
        return "bool"
    if branch.get("format") == "date":
        return "date"
    if branch.get("format") == "date-time":
        return "datetime"
    return _FIELD_KINDS.get(name, "unknown")


@dataclass
class Case:
    """One hostile request."""

    operation: str
    role: str
    method: str
    path: str  # relative to the API prefix (absolute for routes outside it), query string included
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] | None = None
    slot: str = ""
    sent: str = ""  # the hostile value as text (an echo of it in the answer is not a leak)
    must_reject: bool = True
    absolute: bool = False  # the route lives outside /api/v1/orchestrator (e.g. the enterprise routes)

    def describe(self) -> str:
        return f"{self.method} {self.path[:80]!r} as {self.role} [{self.slot}={self.sent[:40]!r}]"


def baseline_body(model: Any) -> dict[str, Any]:
    """The smallest valid body of each model a route takes (written to the probe workflow only)."""
    name = model.__name__
    if name == "WorkflowCreate":
        return {
            "name": f"hostile_new_{uuid.uuid4().hex[:8]}",
            "cron_expression": "0 9 * * 1",
            "steps": ["send_daily_summary"],
            "enabled": False,
        }
    if name == "ScheduleUpdate":
        return {"workflows": [{"workflow_name": PROBE}]}
    return {}


def _path(template: str, values: dict[str, str], prefix: str) -> str:
    path = template
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path[len(prefix) :] if prefix and path.startswith(prefix) else path


def _roles_for(auth: str) -> tuple[list[str], list[str]]:
    """(roles that reach validation, roles the route refuses)."""
    if auth == "public":
        return ["anonymous", "platform_admin"], []
    if auth == "any":
        return ["platform_admin", *TENANT_ROLES], ["anonymous"]
    return ["platform_admin"], ["anonymous", *TENANT_ROLES]


def cases(*, raw_path_values: bool = True) -> list[Case]:
    """Every operation's cases. `raw_path_values`: put path values in the path as they are (in process,
    a NUL can travel); else percent-encode them (over HTTP)."""
    from chalicelib.api.framework import OPERATIONS

    return [case for op in OPERATIONS for case in _operation_cases(op, raw_path_values)]


def _operation_cases(op: Any, raw_path_values: bool) -> list[Case]:
    from chalicelib.api.framework import API_PREFIX

    allowed, refused = _roles_for(op.auth)
    defaults = {"execution_id": UNKNOWN_EXECUTION, "workflow_id": PROBE}
    params = PATH_PARAM.findall(op.full_path)
    base_path = _path(op.full_path, {p: defaults.get(p, "x") for p in params}, API_PREFIX)
    body = baseline_body(op.body) if op.body is not None else None
    own: list[Case] = []
    outside = not op.full_path.startswith(API_PREFIX + "/")

    def add(**kwargs: Any) -> None:  # the roles allowed take turns
        own.append(Case(op.operation_id, allowed[len(own) % len(allowed)], op.method, absolute=outside, **kwargs))

    for param in params:
        for value, reject in TEXT_VALUES.get(param, TEXT_VALUES["name"]) + [(c, REJECT) for c in CONTROL]:
            encoded = value if raw_path_values else quote(value, safe="")
            values = {p: (encoded if p == param else defaults.get(p, "x")) for p in params}
            add(path=_path(op.full_path, values, API_PREFIX), body=body, slot=param, sent=value, must_reject=reject)
    if op.query is not None:
        for name, prop in op.query.model_json_schema().get("properties", {}).items():
            for value, reject in TEXT_VALUES.get(kind_of(name, prop), TEXT_VALUES["text"]) + [
                (c, REJECT) for c in CONTROL[:3]
            ]:
                add(
                    path=f"{base_path}?{urlencode({name: value})}", body=body, slot=name, sent=value, must_reject=reject
                )
    if op.body is not None:
        schema = op.body.model_json_schema()
        for name, prop in schema.get("properties", {}).items():
            for value, reject in JSON_VALUES.get(kind_of(name, prop), JSON_VALUES["unknown"]) + [("a\x00b", REJECT)]:
                sent = {**(body or {}), name: value}
                add(path=base_path, body=sent, slot=name, sent=json.dumps(value)[:200], must_reject=reject)
        if op.body.__name__ == "ScheduleUpdate":  # the fields of each change in the list
            for name, prop in schema["$defs"]["ScheduleChange"]["properties"].items():
                if name == "workflow_name":
                    continue
                for value, reject in JSON_VALUES.get(kind_of(name, prop), JSON_VALUES["unknown"])[:5]:
                    sent = {"workflows": [{"workflow_name": PROBE, name: value}]}
                    slot = f"workflows.0.{name}"
                    add(path=base_path, body=sent, slot=slot, sent=json.dumps(value)[:200], must_reject=reject)
        for raw, headers in RAW_BODIES:
            if not (op.body_optional and raw == b"null"):
                add(path=base_path, raw=raw, headers=headers, slot="<body>", sent=raw[:40].decode(errors="replace"))
    if not own:  # a route without inputs still meets junk: an unknown query parameter
        add(path=f"{base_path}?{urlencode({'x': SQL})}", slot="query", sent=SQL, must_reject=False)
    refusals = [Case(**{**case.__dict__, "role": role, "must_reject": True}) for role in refused for case in own[:2]]
    return refusals + own


# Public by design: health and the API document; the console's page and its static files, which carry no
# data (the page asks for a token), ignore query strings, and serve the page itself at `/console/`.
STATIC_PAGES = ("console_index", "console_asset")
PUBLIC_OPERATIONS = ("health", "openapi_document", *STATIC_PAGES)


def _without_echo(text: str, sent: str) -> str:
    for piece in {sent, sent[:200], json.dumps(sent)[1:-1]} - {""}:
        text = text.replace(piece, "")
    return text


def check(api: Api, case: Case) -> list[str]:
    """Send one case; the problems seen (empty when it was answered well)."""
    token = token_for(case.role)
    status, body, _ = api.call(
        case.method, case.path, token, case.body, raw=case.raw, headers=case.headers, absolute=case.absolute
    )
    problems = []
    static_page = case.operation in STATIC_PAGES
    if status >= 500:
        problems.append(f"{status}: {str(body)[:300]}")
    elif case.must_reject and status < 400 and not static_page:
        problems.append(f"accepted ({status}) what it must refuse")
    elif case.role == "anonymous" and status not in (401, 403) and case.operation not in PUBLIC_OPERATIONS:
        problems.append(f"anonymous got {status}")
    if status >= 400:
        if not (isinstance(body, dict) and set(body) == {"error", "message", "field"}):
            problems.append(f"error not in the one shape: {str(body)[:300]}")
        else:
            leaked = internals_in(_without_echo(json.dumps(body, ensure_ascii=False), case.sent))
            if leaked:
                problems.append(f"internal detail {leaked}: {body['message'][:200]}")
    return problems


def next_caller_is_fine(api: Api, turn: int) -> list[str]:
    """A normal request right after a hostile one answers correctly (alternating an operator's read of a
    workflow and a tenant's page of executions; both reach the database)."""
    if turn % 2 == 0:
        status, body, _ = api.call("GET", "/workflows/daily_operations", token_for("platform_admin"))
        ok = status == 200 and isinstance(body, dict) and body.get("name") == "daily_operations"
    else:
        status, body, _ = api.call("GET", "/executions?limit=1", token_for("tenant_user", "hostile-nobody"))
        ok = status == 200 and isinstance(body, dict) and body.get("executions") == []
    return [] if ok else [f"the next caller got {status}: {str(body)[:300]}"]


def ensure_probe(api: Api) -> None:
    """The probe workflow exists, disabled, run by no state machine."""
    admin = token_for("platform_admin")
    spec = {"name": PROBE, "cron_expression": "0 9 * * 1", "steps": ["send_daily_summary"], "enabled": False}
    status, body, _ = api.call("POST", "/workflows", admin, spec)
    assert status in (201, 409), body


def run_operation(api: Api, operation: str, *, raw_path_values: bool = True) -> tuple[int, list[str]]:
    """All cases of one operation, each followed by a normal request: (cases sent, problems)."""
    ensure_probe(api)
    problems: list[str] = []
    mine = [c for c in cases(raw_path_values=raw_path_values) if c.operation == operation]
    for turn, case in enumerate(mine):
        problems += [f"{case.describe()}: {p}" for p in check(api, case)]
        problems += [f"after {case.describe()}: {p}" for p in next_caller_is_fine(api, turn)]
    return len(mine), problems


def operation_ids() -> list[str]:
    import app  # noqa: F401 - registers the routes
    from chalicelib.api.framework import OPERATIONS

    return [op.operation_id for op in OPERATIONS]
