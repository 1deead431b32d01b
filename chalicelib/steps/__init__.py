"""Lambda step handlers, one module per kind: each parses its event into a model (`common.parse`, errors
name the field) and calls one service. `dispatch` (the rules' target), `run_steps` (StartRun, ListTenants,
RecordTenantFailure, FinishRun, FailRun), `tenant_steps` (the daily pipeline), `publish` (the bridge)."""
