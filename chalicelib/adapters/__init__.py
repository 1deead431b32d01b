"""Adapters to the outside world: platform services, Redis, Step Functions, RabbitMQ."""
