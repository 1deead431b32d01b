"""Hints printed next to the API address (authentication arrives with the API's own issue)."""

from __future__ import annotations


def admin_token_hint() -> str:
    return "Try: curl -s http://127.0.0.1:8018/api/v1/orchestrator/health"
