"""HTTP front of the simulator: routing, input validation, fault injection, server lifecycle."""

from __future__ import annotations

import json
import re
import socketserver
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import data
from .state import SimState, build_fault
from .tenants import STATUSES, normalize_tenant, synthetic_tenants

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TENANT_PREFIX = "/api/v1/tenants/"


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def _unprocessable(field: str, msg: str) -> ApiError:
    return ApiError(422, f"{field}: {msg}")


class Api:
    """Maps (method, target, body) to (status, JSON payload); no socket code here."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        # path -> (method, service, handler); GET /api/v1/tenants/{id} is matched by prefix.
        self.routes: dict[str, tuple[str, str, Callable[[dict], dict]]] = {
            "/api/v1/tenants": ("GET", "tenant", self.list_tenants),
            "/api/v1/forecasting/generate": ("POST", "forecasting", self.forecast),
            "/api/v1/forecasting/validate": ("POST", "forecasting", self.validate),
            "/api/v1/production/schedules/generate": ("POST", "production", self.schedule),
            "/api/v1/procurement/needs/calculate": ("POST", "procurement", self.procurement),
            "/api/v1/inventory/projections/generate": ("POST", "inventory", self.projection),
            "/api/v1/notifications/send": ("POST", "notification", self.notify),
            "/api/v1/sales/daily": ("GET", "sales", self.sales),
            # Read-only views an enterprise dashboard uses (no forecast is generated or stored).
            "/api/v1/forecasting/forecasts": ("GET", "forecasting", self.read_forecast),
            "/api/v1/forecasting/accuracy": ("GET", "forecasting", self.accuracy),
            "/api/v1/sales/summary": ("GET", "sales", self.sales_summary),
            "/api/v1/inventory/waste": ("GET", "inventory", self.waste),
            "/api/v1/production/schedules": ("GET", "production", self.read_schedule),
            "/api/v1/distribution/routes": ("GET", "distribution", self.routes),
        }

    # -- entry point ---------------------------------------------------------
    def dispatch(self, method: str, target: str, raw: bytes) -> tuple[int, object]:
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/"
        query = {k: v if k == "status" else v[-1] for k, v in parse_qs(split.query).items()}
        try:
            if path == "/sim" or path.startswith("/sim/"):
                return 200, self.admin(method, path, raw)
            return 200, self.service(method, path, query, raw)
        except ApiError as exc:
            return exc.status, {"detail": exc.detail}

    def service(self, method: str, path: str, query: dict, raw: bytes) -> dict:
        route = self.routes.get(path)
        template = path
        if route is None and path.startswith(_TENANT_PREFIX):
            ident, _, rest = path[len(_TENANT_PREFIX) :].partition("/")
            if rest == "":
                route, template = ("GET", "tenant", self.get_tenant), _TENANT_PREFIX + "{tenant_id}"
            elif rest == "children":
                route, template = ("GET", "tenant", self.children), _TENANT_PREFIX + "{tenant_id}/children"
            if route is not None:
                query = {"tenant_id": ident}
        if route is None:
            raise ApiError(404, f"no route for {path}")
        want, service, handler = route
        if method != want:
            raise ApiError(405, f"method {method} not allowed for {path}")
        args, bad_body = query, None
        if want == "POST":
            try:
                args = json.loads(raw or b"null")
            except ValueError:
                args, bad_body = {}, "body: invalid JSON"
            if not isinstance(args, dict):
                args, bad_body = {}, bad_body or "body: must be a JSON object"
        tenant_id = args.get("tenant_id")
        tenant_id = tenant_id if isinstance(tenant_id, str) else None
        # Count and fault before validating: a broken upstream fails whatever it is sent.
        self.state.record_call(service, template, tenant_id)
        delay, fail_status = self.state.fault_outcome(service, tenant_id, template)
        if delay:
            time.sleep(delay)
        if fail_status is not None:
            raise ApiError(fail_status, "simulated fault")
        if bad_body:
            raise ApiError(422, bad_body)
        return handler(args)

    # -- validation helpers -------------------------------------------------
    def _tenant(self, args: dict, field: str = "tenant_id") -> dict:
        value = args.get(field)
        if value is None or value == "":
            raise _unprocessable(field, "field required")
        try:
            key = str(uuid.UUID(value)) if isinstance(value, str) else None
        except ValueError:
            key = None
        if key is None:
            raise _unprocessable(field, "must be a UUID string")
        tenant = self.state.tenants.get(key)
        if tenant is None:
            raise ApiError(404, f"tenant {value} not found")
        return tenant

    def _profile(self, args: dict) -> data.Profile:
        tenant = self._tenant(args)
        return data.profile(tenant["id"], tenant["subscription_tier"])

    @staticmethod
    def _date(args: dict, field: str = "date") -> date:
        value = args.get(field)
        if value is None:
            raise _unprocessable(field, "field required")
        if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
            raise _unprocessable(field, "must be an ISO date YYYY-MM-DD")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise _unprocessable(field, "not a valid calendar date") from None

    @classmethod
    def _span(cls, args: dict, max_days: int = 366) -> tuple[date, date]:
        start, end = cls._date(args, "start_date"), cls._date(args, "end_date")
        if end < start:
            raise _unprocessable("end_date", "must not be before start_date")
        if (end - start).days >= max_days:
            raise _unprocessable("end_date", f"the period may cover at most {max_days} days")
        return start, end

    def _outlets(self, parent_id: str) -> list[tuple[dict, data.Profile]]:
        return [
            (t, data.profile(t["id"], t["subscription_tier"]))
            for t in self.state.children_of(parent_id)
            if t["status"] == "active"
        ]

    @staticmethod
    def _int(args: dict, field: str, default: int | None, lo: int, hi: int) -> int:
        value = args.get(field)
        if value is None:  # absent or null both mean "use the default"
            value = default
        if value is None:
            raise _unprocessable(field, "field required")
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)  # query strings carry numbers as text
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise _unprocessable(field, f"must be an integer in [{lo}, {hi}]")
        return value

    @staticmethod
    def _str(args: dict, field: str, required: bool = True) -> str | None:
        value = args.get(field)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise _unprocessable(field, "must be a non-empty string")
        return value

    # -- service handlers ---------------------------------------------------
    def list_tenants(self, q: dict) -> dict:
        wanted = {s.strip() for raw in q.get("status", []) for s in raw.split(",") if s.strip()}
        if wanted - set(STATUSES):
            raise _unprocessable("status", f"must be one of {', '.join(STATUSES)}")
        limit = self._int(q, "limit", 10**9, 0, 10**9)
        offset = self._int(q, "offset", 0, 0, 10**9)
        rows = self.state.sorted_tenants
        if wanted:
            rows = [t for t in rows if t["status"] in wanted]
        return {"tenants": rows[offset : offset + limit], "total": len(rows)}

    def get_tenant(self, q: dict) -> dict:
        return self._tenant(q)

    def children(self, q: dict) -> dict:
        parent = self._tenant(q)
        rows = self.state.children_of(parent["id"])
        return {"tenants": rows, "total": len(rows)}

    def forecast(self, body: dict) -> dict:
        prof = self._profile(body)
        start = self._date(body, "start_date")
        days = self._int(body, "days_ahead", 7, 1, 90)
        doc = data.forecast_doc(prof, start, days)
        self.state.store_forecast(doc["forecast_id"], prof.tenant_id, doc["start_date"], days)
        return doc

    def validate(self, body: dict) -> dict:
        prof = self._profile(body)
        return data.validation_doc(prof, self._date(body))

    def schedule(self, body: dict) -> dict:
        prof = self._profile(body)
        day = self._date(body)
        days = self._int(body, "days_ahead", 7, 1, 90)
        forecast_id = self._str(body, "forecast_id", required=False)
        if forecast_id is not None:
            owner = self.state.forecasts.get(forecast_id)
            if owner is None:
                raise ApiError(404, f"forecast {forecast_id} not found")
            if owner[0] != prof.tenant_id:
                raise _unprocessable("forecast_id", "belongs to another tenant")
        else:  # like the real service: plan from the tenant's latest forecast if any
            forecast_id = self.state.latest_forecast.get(prof.tenant_id)
        return data.schedule_doc(prof, day, days, forecast_id)

    def procurement(self, body: dict) -> dict:
        prof = self._profile(body)
        return data.procurement_doc(prof, self._date(body), self._int(body, "days_ahead", 14, 1, 90))

    def projection(self, body: dict) -> dict:
        prof = self._profile(body)
        return data.projection_doc(prof, self._date(body), self._int(body, "days_ahead", 14, 1, 90))

    def notify(self, body: dict) -> dict:
        tenant_id = self._tenant(body)["id"] if body.get("tenant_id") is not None else None
        kind = self._str(body, "type")
        severity = body.get("severity")
        if severity not in ("info", "warning", "critical"):
            raise _unprocessable("severity", "must be one of info, warning, critical")
        title, message = self._str(body, "title"), self._str(body, "message")
        extra = body.get("data", {})
        if not isinstance(extra, dict):
            raise _unprocessable("data", "must be an object")
        record = self.state.add_notification(
            {
                "tenant_id": tenant_id,
                "type": kind,
                "severity": severity,
                "title": title,
                "message": message,
                "data": extra,
            }
        )
        return {"notification_id": record["notification_id"], "status": "sent"}

    def sales(self, q: dict) -> dict:
        prof = self._profile(q)
        return data.sales_doc(prof, self._date(q))

    def read_forecast(self, q: dict) -> dict:
        prof = self._profile(q)
        return data.forecast_doc(prof, self._date(q, "start_date"), self._int(q, "days_ahead", 7, 1, 90))

    def accuracy(self, q: dict) -> dict:
        prof = self._profile(q)
        return data.accuracy_doc(prof, *self._span(q))

    def sales_summary(self, q: dict) -> dict:
        prof = self._profile(q)
        return data.sales_summary_doc(prof, *self._span(q))

    def waste(self, q: dict) -> dict:
        prof = self._profile(q)
        return data.waste_doc(prof, *self._span(q))

    def read_schedule(self, q: dict) -> dict:
        """A central site (a tenant with active outlets) plans for its network; any other tenant for itself."""
        tenant = self._tenant(q)
        start, days = self._date(q, "start_date"), self._int(q, "days_ahead", 7, 1, 90)
        outlets = self._outlets(tenant["id"])
        if outlets:
            return data.network_plan_doc(tenant["id"], [prof for _, prof in outlets], start, days)
        return data.schedule_doc(data.profile(tenant["id"], tenant["subscription_tier"]), start, days, None)

    def routes(self, q: dict) -> dict:
        tenant = self._tenant(q)
        return data.routes_doc(tenant["id"], self._outlets(tenant["id"]), self._date(q))

    # -- admin ------------------------------------------------------------------
    def admin(self, method: str, path: str, raw: bytes) -> dict:
        st = self.state
        body: object = {}
        if method in ("PUT", "POST"):
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise ApiError(422, "body: invalid JSON") from None
            if not isinstance(body, dict):
                raise ApiError(422, "body: must be a JSON object")
        match method, path:
            case "GET", "/sim/health":
                return {"status": "ok", "tenants": len(st.tenants)}
            case "PUT", "/sim/tenants":
                raw_list = body.get("tenants")
                if not isinstance(raw_list, list):
                    raise _unprocessable("tenants", "must be a list")
                try:
                    st.set_tenants([normalize_tenant(t, i) for i, t in enumerate(raw_list)])
                except ValueError as exc:
                    raise ApiError(422, str(exc)) from None
                return {"tenants": len(st.tenants)}
            case "POST", "/sim/tenants/synthetic":
                count = self._int(body, "count", None, 0, 1_000_000)
                zones = body.get("timezones")
                if zones is not None and (
                    not isinstance(zones, list) or not zones or not all(isinstance(z, str) for z in zones)
                ):
                    raise _unprocessable("timezones", "must be a non-empty list of IANA names")
                st.set_tenants(synthetic_tenants(count, zones))
                return {"tenants": len(st.tenants)}
            case "GET", "/sim/faults":
                return {"faults": st.faults()}
            case "PUT", "/sim/faults":
                try:
                    return st.install_fault(build_fault(body))
                except ValueError as exc:
                    raise ApiError(422, str(exc)) from None
            case "DELETE", "/sim/faults":
                st.clear_faults()
                return {"faults": []}
            case "DELETE", _ if path.startswith("/sim/faults/"):
                st.clear_faults(path.rsplit("/", 1)[1])
                return {"faults": st.faults()}
            case "GET", "/sim/calls":
                calls = st.calls()
                return {"calls": calls, "total": sum(c["count"] for c in calls)}
            case "DELETE", "/sim/calls":
                st.clear_calls()
                return {"calls": [], "total": 0}
            case "GET", "/sim/notifications":
                return {"notifications": st.list_notifications()}
            case "POST", "/sim/reset":
                st.reset()
                return {"status": "reset", "tenants": len(st.tenants)}
        raise ApiError(404, f"no admin route {method} {path}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one TCP connection per client
    disable_nagle_algorithm = True  # small responses must not wait for delayed ACKs
    server_version = "bakery-sim/1.0"
    timeout = 30  # close idle keep-alive sockets so dead clients don't pin threads forever
    server: _HTTPServer

    def _serve(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True  # cannot find the end of this request
            self._reply(400, {"detail": "invalid Content-Length"})
            return
        raw = self.rfile.read(length) if length else b""
        try:
            status, payload = self.server.api.dispatch(self.command, self.path, raw)
        except Exception:  # noqa: BLE001 - a simulator bug, not bad input: surface it loudly
            traceback.print_exc(file=sys.stderr)
            status, payload = 500, {"detail": "simulator error"}
        self._reply(status, payload)

    def _reply(self, status: int, payload: object) -> None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        head = [
            f"HTTP/1.1 {status} {self.responses.get(status, ('Error',))[0]}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
        ]
        if self.close_connection:  # HTTP/1.0 client or "Connection: close"
            head.append("Connection: close")
        # One write per response: half the syscalls of send_response + body.
        self.wfile.write("\r\n".join(head).encode() + b"\r\n\r\n" + body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, *args: object) -> None:
        pass  # per-request logging would dominate at 60k requests per run


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # many Lambdas may connect at once
    api: Api

    def server_bind(self) -> None:
        # Skip HTTPServer's getfqdn() reverse lookup, which can stall for seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # client gave up (e.g. timed out on a hang fault)
        super().handle_error(request, client_address)


class SimulatorServer:
    """The simulator on a background daemon thread; `with SimulatorServer() as sim: sim.url`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, tenants: list[dict] | None = None) -> None:
        self.host, self.port = host, port
        self.state = SimState(tenants)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return f"http://{self.host}:{self.port}"

    def start(self) -> SimulatorServer:
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.api = Api(self.state)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"bakery-sim:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
