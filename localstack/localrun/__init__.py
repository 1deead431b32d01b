"""Brings the whole orchestrator up on the local cloud: embedded or real services, the bakery platform
simulator, moto with the project's patches, the deployed functions/state machines/rules, the clock."""
