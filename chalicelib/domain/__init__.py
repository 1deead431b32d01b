"""Pure domain rules: no I/O, no clocks, no environment (settings are passed in).

`schedule` (when a local cron is due, holidays and weekends, the UTC rules), `calendar` (holiday
calendars), `runs` (execution names, tenant selection, final status), `models` (the step payloads, the
daily pipeline), `workflows` (built-in definitions, validation), `events` (the outbox events), `alerts`,
`costs` (the AWS cost estimate), `constants`."""
