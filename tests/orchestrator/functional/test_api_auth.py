"""Token verification and the enterprise gate (pure: no stack needed)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from chalicelib.api.auth import AuthError, HS256Verifier, Principal, issue_token, require_enterprise_member

SECRET = "a-test-secret-that-is-long-enough-for-hs256"


@dataclass
class T:
    id: str
    subscription_tier: str
    parent_tenant_id: str | None = None


TENANTS = [
    T("group", "enterprise"),
    T("outlet", "enterprise", "group"),
    T("other", "enterprise"),
    T("small", "starter"),
    T("small-outlet", "starter", "small"),
]


def test_claims_become_a_principal() -> None:
    token = issue_token(subject="u1", role="tenant_user", tenant_id="outlet", tier="enterprise", secret=SECRET)
    principal = HS256Verifier(SECRET).verify(token)
    assert principal == Principal(subject="u1", role="tenant_user", tenant_id="outlet", tier="enterprise")
    assert principal.tenant_scope == "outlet" and not principal.is_admin


def test_tenant_role_without_tenant_id_is_refused() -> None:
    token = issue_token(subject="u1", role="tenant_admin", secret=SECRET)
    with pytest.raises(AuthError) as caught:
        HS256Verifier(SECRET).verify(token)
    assert caught.value.status == 401 and "tenant_id" in caught.value.message


@pytest.mark.parametrize(
    ("principal", "parent", "status"),
    [
        (Principal("a", "platform_admin"), "group", None),
        (Principal("a", "tenant_user", "group", "enterprise"), "group", None),
        (Principal("a", "tenant_user", "outlet", "enterprise"), "group", None),
        (Principal("a", "tenant_user", "other", "enterprise"), "group", 404),  # not a member: not found
        (Principal("a", "tenant_user", "outlet", "enterprise"), "nobody", 404),
        (Principal("a", "tenant_user", "small-outlet", "starter"), "small", 403),  # tier
        (Principal("a", "tenant_user", "small-outlet", None), "small", 403),  # parent not enterprise
    ],
)
def test_enterprise_gate(principal: Principal, parent: str, status: int | None) -> None:
    if status is None:
        require_enterprise_member(principal, parent, lambda: TENANTS)
        return
    with pytest.raises(AuthError) as caught:
        require_enterprise_member(principal, parent, lambda: TENANTS)
    assert caught.value.status == status
