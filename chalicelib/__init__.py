"""Everything that ships in the Lambda package, in layers (imports point down, checked by `lint-imports`):

- `api/` (REST routes, schemas, auth, OpenAPI, metrics) and `steps/` (thin Lambda step handlers);
- `services/` (the use cases routes and steps share: start, finish or fail a run, dispatch, schedules);
- `db/` (models, migrations, one repository module per aggregate) and `adapters/` (platform HTTP, Redis,
  Step Functions, EventBridge, S3, event sinks);
- `domain/` (pure rules: schedules, calendars, names, payloads, events, alerts, costs);
- `settings`, `observability`, `errors` underneath; `runtime.reset` for whoever changes the environment.

See ARCHITECTURE.md for where a new step, route, workflow or table goes.
"""
