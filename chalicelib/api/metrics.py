"""`GET /metrics`: the Prometheus exposition, built at scrape time from the recorded executions.

A Lambda keeps no counters between invocations, so the families are read from the database on every
scrape by a custom collector (prometheus-client renders the text format).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from chalicelib.db import readmodels
from chalicelib.db.engine import session_scope

DURATION_BUCKETS = (60.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)


class ExecutionsCollector(Collector):
    """The documented series: executions by status, duration histogram, success rate, tenants processed,
    the dispatch-lock holder, and the runs in flight."""

    def collect(self) -> Iterator[Metric]:
        with session_scope() as session:
            counts = readmodels.execution_counts(session)
            histograms = readmodels.duration_histograms(session, DURATION_BUCKETS)
            rates = readmodels.success_rates(session)
            tenants = readmodels.tenants_processed(session)
            leases = readmodels.leader_leases(session, datetime.now(UTC))
            running = readmodels.running_counts(session)

        executions = CounterMetricFamily(
            "orchestrator_workflow_executions",
            "Workflow executions by final or current status.",
            labels=("workflow_name", "status"),
        )
        for workflow, status, count in counts:
            executions.add_metric((workflow, status), count)
        yield executions

        durations = HistogramMetricFamily(
            "orchestrator_workflow_duration_seconds",
            "Duration of finished workflow executions.",
            labels=("workflow_name",),
        )
        for workflow, cumulative, count, total in histograms:
            buckets = [(floatToGoString(b), c) for b, c in zip(DURATION_BUCKETS, cumulative, strict=True)]
            durations.add_metric((workflow,), [*buckets, ("+Inf", count)], total)
        yield durations

        success = GaugeMetricFamily(
            "orchestrator_workflow_success_rate_percentage",
            "Percent of finished executions that did not fail (tenant failures included).",
            labels=("workflow_name",),
        )
        for workflow, rate in rates:
            success.add_metric((workflow,), rate)
        yield success

        processed = CounterMetricFamily(
            "orchestrator_tenants_processed",
            "Tenants processed by finished executions.",
            labels=("workflow_name", "status"),
        )
        for workflow, done, failed, skipped in tenants:
            for status, value in (("completed", done), ("failed", failed), ("skipped", skipped)):
                processed.add_metric((workflow, status), value)
        yield processed

        leader = GaugeMetricFamily(
            "orchestrator_leader_instance",
            "1 for the instance whose dispatch-lock lease is current (heartbeat within its TTL), else 0.",
            labels=("instance_id",),
        )
        for instance_id, current in sorted(leases.items()):
            leader.add_metric((instance_id,), 1.0 if current else 0.0)
        yield leader

        in_flight = GaugeMetricFamily(
            "orchestrator_executions_running", "Executions running now.", labels=("workflow_name",)
        )
        for workflow, count in running:
            in_flight.add_metric((workflow,), count)
        yield in_flight


def exposition() -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExecutionsCollector())
    return generate_latest(registry).decode()
