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


def console_link(port: int = 8018, token: str | None = None) -> str:
    """The console's address with a ready token in its fragment (the page keeps it for the session and
    drops it from the address bar; a fragment never reaches the server's logs)."""
    return f"http://127.0.0.1:{port}/console#token={token or admin_token()}"


def aws_cli_hint(endpoint_url: str, state_machine_arns: dict[str, str]) -> str:
    """How to inspect the local cloud with the AWS CLI (any credentials; the region of the stack)."""
    arn = next(iter(state_machine_arns.values()), "<state machine ARN>")
    region = arn.split(":")[3] if arn.count(":") > 3 else "eu-west-1"
    return (
        f"Local cloud on {endpoint_url}; with the AWS CLI:\n"
        f"  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION={region} \\\n"
        f"  aws stepfunctions list-executions --endpoint-url {endpoint_url} --state-machine-arn {arn}"
    )
