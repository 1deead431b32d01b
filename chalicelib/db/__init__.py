"""Persistence: SQLAlchemy 2 models, engine and sessions, Alembic migrations, and one repository module per
aggregate. Every repository function takes the caller's Session (the caller owns the transaction).

- `engine`: `session_scope`, `get_engine`; `migrate`: `upgrade`, `downgrade`; `models`: the tables;
- `runs` (executions), `steps` (per-tenant step rows, progress), `logs` (`add_logs`, `log_row`),
  `fences` (fencing numbers), `outbox`, `workflows`, `schedule` (watermarks, leader rows);
- `readmodels`: what the API reads (executions, logs, statistics, the metrics' numbers);
- `sql`: dialect helpers (`dialect_insert`, `aware`).
"""
