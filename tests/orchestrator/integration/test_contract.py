"""The documented contract on Postgres, from the migrations: every table column and index the other
services and dashboards rely on, the daily orchestrator_metrics rows (equal to numbers computed from the
executions), and the Prometheus families with their labels and histogram buckets."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from chalicelib.api.metrics import exposition
from chalicelib.db.engine import session_scope
from chalicelib.db.models import Execution, Metric

COLUMNS = {
    "orchestrator_workflows": {
        "workflow_type",
        "last_execution_at",
        "last_success_at",
        "last_failure_at",
        "next_execution_at",
        "consecutive_failures",
        "retry_delay_seconds",
        "max_retries",
        "max_execution_time_seconds",
        "steps",
        "cron_expression",
        "timezone",
        "description",
        "created_at",
        "updated_at",
    },
    "orchestrator_executions": {
        "workflow_id",
        "workflow_name",
        "execution_type",
        "triggered_by",
        "tenant_id",
        "status",
        "started_at",
        "completed_at",
        "duration_seconds",
        "steps_completed",
        "steps_total",
        "steps_failed",
        "error_message",
        "result_summary",
        "executed_by_instance",
        "created_at",
    },
    "orchestrator_execution_logs": {
        "execution_id",
        "step_name",
        "step_index",
        "level",
        "message",
        "data",
        "created_at",
    },
    "orchestrator_leader": {"instance_id", "acquired_at", "heartbeat_at"},
    "orchestrator_metrics": {
        "metric_date",
        "workflow_name",
        "total_executions",
        "successful_executions",
        "failed_executions",
        "avg_duration_seconds",
        "min_duration_seconds",
        "max_duration_seconds",
        "success_rate_percentage",
        "avg_retry_count",
        "calculated_at",
    },
}
INDEXES = {
    "orchestrator_workflows": [["enabled", "next_execution_at"]],
    "orchestrator_executions": [
        ["workflow_name", "created_at"],
        ["tenant_id", "created_at"],
        ["status", "started_at"],
        ["workflow_name", "status"],
    ],
    "orchestrator_execution_logs": [["execution_id", "step_index"]],
    "orchestrator_metrics": [["metric_date"]],
}
NEWEST_FIRST = {("orchestrator_executions", "created_at"), ("orchestrator_metrics", "metric_date")}
BUCKETS = ["60.0", "300.0", "600.0", "1200.0", "1800.0", "3600.0", "+Inf"]


def test_tables_have_the_documented_columns_indexes_and_defaults(pg_stack: Any, pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        inspector = sa.inspect(engine)
        for table, wanted in COLUMNS.items():
            assert wanted <= {c["name"] for c in inspector.get_columns(table)}, table
        for table, indexes in INDEXES.items():
            present = [(i["column_names"], i.get("column_sorting", {})) for i in inspector.get_indexes(table)]
            for columns in indexes:
                matches = [sorting for names, sorting in present if names == columns]
                assert matches, (table, columns)
                for column in columns:
                    if (table, column) in NEWEST_FIRST:
                        assert any("desc" in sorting.get(column, ()) for sorting in matches), (table, column)
        unique = inspector.get_unique_constraints("orchestrator_metrics")
        assert any(u["column_names"] == ["metric_date", "workflow_name"] for u in unique)
        statuses = " ".join(c["sqltext"] for c in inspector.get_check_constraints("orchestrator_executions"))
        assert "cancelled" in statuses
    finally:
        engine.dispose()
    # AND the documented defaults of a workflow: 3 retries, 300 s apart
    from chalicelib.db.models import Workflow

    assert Workflow.__table__.c.max_retries.default.arg == 3
    assert Workflow.__table__.c.retry_delay_seconds.default.arg == 300


def _run(stack: Any, at: datetime) -> dict[str, Any]:
    runs = stack.dispatches(stack.fire(at))[0]["runs"]
    return stack.wait(runs[0]["execution_name"], timeout=180).summary


def test_the_daily_metrics_rows_equal_numbers_computed_from_the_executions(pg_stack: Any) -> None:
    # GIVEN runs of the daily workflow: one completes, one fails (forecasting down for everyone)
    _run(pg_stack, datetime(2027, 5, 4, 6, 0, tzinfo=UTC))
    pg_stack.simulator.state.set_fault("forecasting", status_code=503, error_rate=1.0)
    try:
        _run(pg_stack, datetime(2027, 5, 5, 6, 0, tzinfo=UTC))
    finally:
        pg_stack.simulator.state.reset()
    # WHEN the metrics rows are read (each close upserted its day's row)
    with session_scope() as session:
        rows = {(m.metric_date, m.workflow_name): m for m in session.scalars(sa.select(Metric))}
        executions = list(session.scalars(sa.select(Execution).where(Execution.completed_at.is_not(None))))
        # THEN each (day, workflow) row equals what the executions of that day say
        by_key: dict[tuple[Any, str], list[Execution]] = {}
        for e in executions:
            by_key.setdefault((e.started_at.astimezone(UTC).date(), e.workflow_name), []).append(e)
        assert by_key and set(rows) >= set(by_key)
        for key, group in by_key.items():
            row = rows[key]
            ok = [e for e in group if e.status in ("completed", "completed_with_failures")]
            durations = [e.duration_seconds for e in group]
            retried = sum(1 for e in group if e.execution_type == "retry")
            assert (row.total_executions, row.successful_executions, row.failed_executions) == (
                len(group),
                len(ok),
                len(group) - len(ok),
            ), key
            assert row.min_duration_seconds == round(min(durations)) and row.max_duration_seconds == round(
                max(durations)
            )
            assert abs(row.avg_duration_seconds - sum(durations) / len(durations)) <= 0.5
            expected_rate = (Decimal(100 * len(ok)) / len(group)).quantize(Decimal("0.01"), ROUND_HALF_UP)
            assert row.success_rate_percentage == expected_rate
            originals = len(group) - retried
            assert row.avg_retry_count == (
                (Decimal(retried) / originals).quantize(Decimal("0.01"), ROUND_HALF_UP) if originals else None
            )


def test_the_five_documented_metrics_with_their_labels_and_buckets(pg_stack: Any) -> None:
    # GIVEN at least one finished run and a recorded dispatch lock (the runs above, or this one)
    _run(pg_stack, datetime(2027, 5, 6, 6, 0, tzinfo=UTC))
    families = {f.name: f for f in text_string_to_metric_families(exposition())}
    # THEN the five documented families are there, of their documented types and label names
    expected = {
        "orchestrator_workflow_executions": ("counter", {"workflow_name", "status"}),
        "orchestrator_workflow_duration_seconds": ("histogram", {"workflow_name"}),
        "orchestrator_workflow_success_rate_percentage": ("gauge", {"workflow_name"}),
        "orchestrator_tenants_processed": ("counter", {"workflow_name", "status"}),
        "orchestrator_leader_instance": ("gauge", {"instance_id"}),
    }
    for name, (kind, labels) in expected.items():
        family = families[name]
        assert family.type == kind, name
        assert family.samples, name
        assert all(set(s.labels) - {"le"} == labels for s in family.samples), name
    # AND the duration histogram has exactly the documented buckets
    buckets = [
        s.labels["le"] for s in families["orchestrator_workflow_duration_seconds"].samples if s.name.endswith("_bucket")
    ]
    assert buckets[: len(BUCKETS)] == BUCKETS
    # AND the leader gauge is 1 for the instance whose heartbeat is fresh
    assert any(s.value == 1.0 for s in families["orchestrator_leader_instance"].samples)
