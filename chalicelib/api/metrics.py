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
from chalicelib.domain.constants import EXECUTION_STATUSES

DURATION_BUCKETS = (60.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)


class ExecutionsCollector(Collector):
    """The documented series: executions by status, duration histogram, success rate, tenants processed,
    the dispatch-lock holder, and the runs in flight; and what the alert rules and the dashboard in ops/
    need besides: the last successful run per workflow and scope, slow runs, cost, and the outbox backlog."""

    def collect(self) -> Iterator[Metric]:
        with session_scope() as session:
            counts = readmodels.execution_counts(session)
            histograms = readmodels.duration_histograms(session, DURATION_BUCKETS)
            rates = readmodels.success_rates(session)
            tenants = readmodels.tenants_processed(session)
            leases = readmodels.leader_leases(session, datetime.now(UTC))
            running = readmodels.running_counts(session)
            types = readmodels.workflow_types(session)
            successes = readmodels.last_successes(session)
            slow = readmodels.slow_runs(session)
            costs = readmodels.run_costs(session)
            backlog, backlog_age = readmodels.outbox_backlog(session, datetime.now(UTC))

        executions = CounterMetricFamily(
            "orchestrator_workflow_executions",
            "Workflow executions by final or current status.",
            labels=("workflow_name", "status"),
        )
        # Every status of every workflow that ran, zero included: an alert on the increase of `failed`
        # sees a workflow's first failure only if the series existed (at 0) before it.
        seen = {(workflow, status): count for workflow, status, count in counts}
        for workflow in sorted({workflow for workflow, _, _ in counts}):
            for status in EXECUTION_STATUSES:
                executions.add_metric((workflow, status), seen.get((workflow, status), 0))
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
        in_flight_by_workflow = dict(running)
        for workflow in sorted({workflow for workflow, _, _ in counts} | set(in_flight_by_workflow)):
            in_flight.add_metric((workflow,), in_flight_by_workflow.get(workflow, 0))
        yield in_flight

        last_success = GaugeMetricFamily(
            "orchestrator_workflow_last_success_timestamp_seconds",
            "When the latest run that did not fail (tenant failures included) finished, per workflow and scope "
            "(Unix time).",
            labels=("workflow_name", "workflow_type", "scope"),
        )
        for workflow, scope, finished in successes:
            last_success.add_metric((workflow, types.get(workflow, "unknown"), scope), finished.timestamp())
        yield last_success

        slow_total = CounterMetricFamily(
            "orchestrator_workflow_slow_runs",
            "Finished runs flagged slow: over SLOW_RUN_FACTOR x the p95 of their workflow and scope's last 30 runs.",
            labels=("workflow_name", "scope"),
        )
        for workflow, scope, count in slow:
            slow_total.add_metric((workflow, scope), count)
        yield slow_total

        cost = CounterMetricFamily(
            "orchestrator_workflow_cost_eur",
            "Estimated AWS cost of the finished runs (Step Functions, Lambda, S3), in EUR.",
            labels=("workflow_name",),
        )
        for workflow, eur in costs:
            cost.add_metric((workflow,), eur)
        yield cost

        yield GaugeMetricFamily(
            "orchestrator_outbox_pending_events", "Events in the outbox not yet published to RabbitMQ.", value=backlog
        )
        yield GaugeMetricFamily(
            "orchestrator_outbox_oldest_pending_age_seconds",
            "Age of the oldest event not yet published to RabbitMQ (0 when none waits).",
            value=backlog_age,
        )


def exposition() -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExecutionsCollector())
    return generate_latest(registry).decode()
