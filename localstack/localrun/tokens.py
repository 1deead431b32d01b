"""Ready-to-use API tokens for `make run` (HS256 with the stage's JWT_SECRET; local only)."""

from __future__ import annotations

from chalicelib.api.auth import issue_token


def admin_token(ttl_seconds: int = 12 * 3600) -> str:
    return issue_token(subject="local-operator", role="platform_admin", ttl_seconds=ttl_seconds)


def tenant_token(
    tenant_id: str, *, role: str = "tenant_admin", tier: str = "starter", ttl_seconds: int = 12 * 3600
) -> str:
    return issue_token(
        subject=f"user-of-{tenant_id}", role=role, tenant_id=tenant_id, tier=tier, ttl_seconds=ttl_seconds
    )


def admin_token_hint(port: int = 8018) -> str:
    token = admin_token()
    base = f"http://127.0.0.1:{port}"
    return (
        f"Admin token (12 h): {token}\n"
        f'Try: curl -s -H "Authorization: Bearer {token}" {base}/api/v1/orchestrator/executions\n'
        f"     curl -s {base}/api/v1/orchestrator/health ; curl -s {base}/openapi.json"
    )
