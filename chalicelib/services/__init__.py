"""Use cases shared by the API and the Lambda steps. Public API, by module:

- `runs`: `start_run` (under the run lock, deterministic name), `open_run`, `list_run_tenants`,
  `record_tenant_failure`, `finish_run`, `fail_run` / `fail_run_named`, `after_close`;
- `dispatch`: `dispatch` (one rule firing), `sweep` (catch-up);
- `scheduling`: `reconcile_rules`, `desired_rules`, `next_run`, `scopes_of`, `state_machine_for`,
  `leader_status`;
- `tenant_steps`: `run_tenant_step` (once per execution, tenant and step; recorded); `daily`: the work of
  the daily pipeline's six steps;
- `alerts`: `notify_run_closed`; `watchdog`: `expire_overdue`; `outbox`: `publish_events`, `drain`.
"""
