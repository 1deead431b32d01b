"""`python -m localrun`: the daily run over demo tenants on the local cloud (what `make run` calls).

Options: --once (exit after the run; last line is the JSON summary), --tenants N (synthetic tenants
instead of the demo set), --regions MD,CT,AN (spread the synthetic tenants over Spanish regions, so a
regional holiday splits a timezone), --holiday-policy skip|next_business_day|run (the daily workflow's,
default run), --at ISO-8601 UTC instant (fire the clock then; default: the next 08:00 Europe/Madrid),
--port for the API (`chalice local`, default 8018), --cloud-port for the local cloud (default
LOCALCLOUD_PORT, else 4566, so `aws ... --endpoint-url http://127.0.0.1:4566` reaches it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from datetime import UTC, datetime
from typing import Any

from cronsim import CronSim
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chalicelib.domain.schedule import zone
from chalicelib.settings import get_settings

console = Console(stderr=True)


def parse_instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"AT: not an ISO-8601 instant: {text!r} (e.g. 2026-11-30T07:00:00Z)") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"AT: give a UTC offset or Z, e.g. {text}Z")
    return value.astimezone(UTC)


def parse_tenants(text: str) -> int | None:
    if text in ("", "demo"):
        return None
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"TENANTS: expected a positive integer or 'demo', got {text!r}") from None
    if not 1 <= count <= 100_000:
        raise argparse.ArgumentTypeError(f"TENANTS: must be between 1 and 100000, got {count}")
    return count


def parse_regions(text: str) -> list[str] | None:
    """`MD,CT,AN` -> ["MD", "CT", "AN"]; each must be a Spanish region the holiday calendar knows."""
    import holidays

    regions = [part.strip().upper().removeprefix("ES-") for part in text.split(",") if part.strip()]
    if not regions:
        return None
    known = set(holidays.country_holidays("ES").subdivisions)
    unknown = [r for r in regions if r not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"REGIONS: unknown Spanish regions {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        )
    return regions


DEFAULT_CLOUD_PORT = 4566  # where AWS tools expect a local endpoint (LocalStack's port)


def parse_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"LOCALCLOUD_PORT: expected a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"LOCALCLOUD_PORT: must be between 0 and 65535, got {port}")
    return port


def port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cloud_port(explicit: int | None) -> int:
    """--cloud-port, else LOCALCLOUD_PORT, else 4566."""
    if explicit is not None:
        return explicit
    text = os.environ.get("LOCALCLOUD_PORT", "").strip()
    return parse_port(text) if text else DEFAULT_CLOUD_PORT


def next_daily_instant(now: datetime, cron: str = "0 8 * * *", tz: str = "Europe/Madrid") -> datetime:
    return next(CronSim(cron, now.astimezone(zone(tz)))).astimezone(UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="localrun", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--once", action="store_true", help="exit after the run (status 0 only on success)")
    parser.add_argument("--tenants", type=parse_tenants, default=None, help="N synthetic tenants (default: demo)")
    parser.add_argument(
        "--regions", type=parse_regions, default=None, help="comma-separated Spanish regions, e.g. MD,CT,AN"
    )
    parser.add_argument(
        "--holiday-policy", choices=("run", "skip", "next_business_day"), default=None, help="daily workflow's"
    )
    parser.add_argument("--at", type=parse_instant, default=None, help="UTC instant to fire the clock at")
    parser.add_argument("--port", type=int, default=None, help="port of the API (chalice local; default PORT, 8018)")
    parser.add_argument(
        "--cloud-port",
        type=parse_port,
        default=None,
        help="port of the local cloud (default: LOCALCLOUD_PORT, else 4566; 0 picks a free one)",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the run")
    return parser


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
    )


def _watch(stack: Any, name: str, timeout: float) -> Any:
    with _progress_bar() as bar:
        tenants = bar.add_task(f"{name} tenants", total=None, detail="")
        steps = bar.add_task(f"{name} steps", total=None, detail="")

        def update(p: dict[str, Any]) -> None:
            done = p["tenants_processed"] + p["tenants_failed"]
            bar.update(
                tenants, total=p["tenants_total"] or None, completed=done, detail=f"{p['tenants_failed']} failed"
            )
            bar.update(
                steps,
                total=p["steps_total"] or None,
                completed=p["steps_completed"] + p["steps_failed"],
                detail=f"{p['steps_failed']} failed",
            )

        return stack.wait(name, timeout=timeout, on_progress=update)


def _print_table(summaries: list[dict[str, Any]]) -> None:
    table = Table(title="Daily run")
    for column in ("execution", "status", "tenants ok", "failed", "skipped", "steps", "duration s"):
        table.add_column(column)
    for s in summaries:
        table.add_row(
            s["execution_name"],
            s["status"],
            str(s["tenants_processed"]),
            str(s["tenants_failed"]),
            str(s["tenants_skipped"]),
            f"{s['steps_completed']}/{s['steps_total']}",
            f"{s['duration_seconds']:.1f}",
        )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        local_cloud_port = cloud_port(args.cloud_port)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

    from bakery_sim.tenants import demo_tenants, synthetic_tenants
    from localrun.stack import Stack

    if args.tenants is None and args.regions is None:
        tenants = demo_tenants()
    else:
        tenants = synthetic_tenants(args.tenants or 30, regions=args.regions)
    at = args.at or next_daily_instant(datetime.now(UTC))
    stack = Stack(
        database_url=os.environ.get("DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        rabbitmq_url=os.environ.get("RABBITMQ_URL") or None,
        tenants=tenants,
        cloud_port=local_cloud_port,
    )
    started = time.monotonic()
    console.print(
        f"[bold]Starting the local cloud[/] ({len(tenants)} tenants; database "
        f"{'Postgres' if stack.database_url.startswith('postgres') else 'embedded SQLite'}, "
        f"Redis {'real' if stack.redis_url else 'embedded'}, "
        f"events to {'RabbitMQ' if stack.rabbitmq_url else 'the local event log'})"
    )
    if local_cloud_port and not port_free(local_cloud_port):
        console.print(
            f"[red]Port {local_cloud_port} on 127.0.0.1 is taken: the local cloud cannot listen there. "
            "Stop what holds it or choose another, e.g. make run LOCALCLOUD_PORT=4570[/]"
        )
        return 2
    try:
        stack.start()
        console.print(
            f"Local cloud at {stack.cloud.endpoint_url}; simulator at {stack.simulator.url}; "
            f"{len(stack.deployment.function_arns)} functions, "
            f"{len(stack.deployment.rule_names)} rules deployed"
        )
        if args.holiday_policy:
            stack.set_holiday_policy("daily_operations", args.holiday_policy)
        console.print(f"[bold]Firing the EventBridge clock at {at.isoformat()}[/]")
        firings = stack.fire(at)
        dispatches = stack.dispatches(firings)
        errors = [f for f in firings if f.function_error]
        for firing in errors:
            console.print(f"[red]{firing.rule_name}: {firing.function_error}: {firing.response_payload}[/]")
        runs = [run for d in dispatches for run in d["runs"]]
        # The catch-up sweep (its own rule, target id "catchup") may start runs an outage missed.
        runs += [
            run
            for f in firings
            if f.target_id == "catchup" and isinstance(f.response_payload, dict)
            for run in f.response_payload.get("runs", [])
        ]
        not_due = sorted({scope for d in dispatches for scope in d["not_due"]})
        holidays = [skip for d in dispatches for skip in d.get("skipped", []) if skip.get("calendar")]
        for skip in holidays:
            console.print(
                f"{skip['scope']}: {skip['tenants']} tenants of {skip['calendar']} skipped today "
                f"({skip['reason']}: {skip['holiday']})"
            )
        summaries = []
        for run in runs:
            console.print(f"{run['scope']}: {run['outcome']} {run['execution_name']}")
            if run["outcome"] in ("started", "already_running"):
                result = _watch(stack, run["execution_name"], args.timeout)
                summaries.append({**result.summary, "sfn_status": result.sfn_status})
            else:
                summaries.append({**stack.summary(run["execution_name"]), "sfn_status": None})
        # The state machine drains the outbox itself; one more drain covers anything a broker outage left.
        stack.drain_outbox()
        if summaries:
            _print_table(summaries)
        ok = bool(summaries) and all(s["status"] in ("completed", "completed_with_failures") for s in summaries)
        if not runs:
            console.print(f"[yellow]Nothing was due at {at.isoformat()} (scopes not due: {', '.join(not_due)})[/]")
        first = summaries[0] if summaries else {}
        line = {
            "execution_name": first.get("execution_name"),
            "status": first.get("status", "not_due" if not runs else "unknown"),
            "tenants_processed": sum(s.get("tenants_processed", 0) for s in summaries),
            "tenants_failed": sum(s.get("tenants_failed", 0) for s in summaries),
            "tenants_skipped": sum(s.get("tenants_skipped", 0) for s in summaries),
            "steps_completed": sum(s.get("steps_completed", 0) for s in summaries),
            "steps_failed": sum(s.get("steps_failed", 0) for s in summaries),
            "duration_seconds": round(sum(s.get("duration_seconds", 0.0) for s in summaries), 3),
            "wall_seconds": round(time.monotonic() - started, 3),
            "fired_at": at.isoformat(),
            "scopes_ran": [r["scope"] for r in runs],
            "scopes_not_due": not_due,
            "holidays_skipped": [
                {k: skip[k] for k in ("scope", "calendar", "tenants", "reason", "holiday")} for skip in holidays
            ],
            "runs": [
                {
                    k: s.get(k)
                    for k in (
                        "execution_name",
                        "scope",
                        "status",
                        "tenants_processed",
                        "tenants_failed",
                        "steps_completed",
                        "duration_seconds",
                    )
                }
                for s in summaries
            ],
        }
        if args.once:
            print(json.dumps(line), flush=True)
            return 0 if ok else 1
        console.print_json(json.dumps(line))
        return _serve_api(stack, args.port or get_settings().port)
    finally:
        stack.stop()


def _serve_api(stack: Any, port: int) -> int:
    from localrun.api import LocalApi
    from localrun.tokens import admin_token_hint, aws_cli_hint, console_link

    api = LocalApi(stack.env, port=port, quiet=False).start()
    process = api.process
    assert process is not None

    def stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    # Ctrl-C and a plain `kill` both stop the API and the local cloud cleanly.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    console.print(
        f"[bold green]API on http://127.0.0.1:{port}/api/v1/orchestrator/executions[/] "
        f"(Ctrl-C to stop).\n{admin_token_hint(port)}",
        soft_wrap=True,
    )
    assert stack.cloud is not None and stack.deployment is not None
    console.print(aws_cli_hint(stack.cloud.endpoint_url, stack.deployment.state_machine_arns), soft_wrap=True)
    console.print(f"[bold green]Console (signed in as a platform admin, 12 h):[/] {console_link(port)}", soft_wrap=True)
    try:
        return process.wait()
    except KeyboardInterrupt:
        api.stop()
        return 0


if __name__ == "__main__":
    sys.exit(main())
