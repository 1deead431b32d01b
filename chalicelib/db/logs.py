"""Execution log rows: the audit trail of every run (one statement per batch, whatever its size)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from chalicelib.db.models import ExecutionLog
from chalicelib.db.sql import is_postgres
from chalicelib.domain.models import step_index


def log_row(
    step_name: str,
    message: str,
    *,
    tenant_id: str | None = None,
    level: str = "INFO",
    data: dict[str, Any] | None = None,
    duration_ms: float | None = None,
) -> dict[str, Any]:
    """One log row as `add_logs` and `steps.record_step` take it."""
    return {
        "tenant_id": tenant_id,
        "step_name": step_name,
        "step_index": step_index(step_name),
        "level": level,
        "message": message,
        "data": data,
        "duration_ms": duration_ms,
    }


_INSERT_LOGS_POSTGRES = text("""
    INSERT INTO orchestrator_execution_logs
        (execution_id, tenant_id, step_name, step_index, level, message, data, duration_ms, created_at)
    SELECT CAST(:execution_id AS UUID), r.tenant_id, r.step_name, r.step_index, r.level, r.message, r.data,
           r.duration_ms, clock_timestamp()
    FROM jsonb_to_recordset(CAST(:rows AS JSONB)) AS r(tenant_id VARCHAR, step_name VARCHAR, step_index INTEGER,
         level VARCHAR, message TEXT, data JSONB, duration_ms DOUBLE PRECISION)
""")


def add_logs(session: Session, execution_id: str, logs: list[dict[str, Any]]) -> None:
    """All of a step's log rows in one round trip.

    On Postgres the rows travel as one JSON parameter unpacked by jsonb_to_recordset: one statement,
    compiled once, whatever the number of rows (a multi-row VALUES or executemany costs SQLAlchemy
    and pg8000 per-value work that caps ingestion at a few thousand rows/s).
    """
    if not logs:
        return
    rows = [
        {
            "tenant_id": row.get("tenant_id"),
            "step_name": row["step_name"],
            "step_index": row.get("step_index") or 0,
            "level": row.get("level") or "INFO",
            "message": row["message"],
            "data": row.get("data"),
            "duration_ms": row.get("duration_ms"),
        }
        for row in logs
    ]
    if is_postgres(session):
        session.execute(_INSERT_LOGS_POSTGRES, {"execution_id": execution_id, "rows": json.dumps(rows, default=str)})
        return
    exec_uuid = uuid.UUID(execution_id)
    session.execute(insert(ExecutionLog), [{"execution_id": exec_uuid, **row} for row in rows])
