"""Adapters to the outside world, each taking its client (built lazily and cached when none is given):

- `platform`: the bakery services over HTTP (`get_platform_client`) with a Redis semaphore per service;
- `redis_client` (`get_redis`), `locks` (`RunLocks` with fencing, `DispatchLocks`), `step_cache`
  (`run_once`: a step's work at most once);
- `stepfunctions` (`Executions`, `get_sfn_client`), `eventbridge` (`apply_rules`, `delete_rule`),
  `manifests` (S3), `events` (RabbitMQ or local-log sinks for the outbox bridge).
"""
