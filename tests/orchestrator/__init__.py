"""Tests of orchestrator."""
