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
    ("principal", "parent", "status", "says"),
    [
        (Principal("a", "platform_admin"), "group", None, None),
        (Principal("a", "tenant_user", "group", "enterprise"), "group", None, None),
        (Principal("a", "tenant_user", "group", "starter"), "group", None, None),  # the tenant service's tier wins
        (Principal("a", "tenant_user", "outlet", "enterprise"), "group", 403, "own users"),  # an outlet's user
        (Principal("a", "tenant_user", "other", "enterprise"), "group", 403, "own users"),  # another tenant
        (Principal("a", "tenant_user", "other", "enterprise"), "nobody", 403, "own users"),  # learns nothing
        (Principal("a", "platform_admin"), "nobody", 404, "not found"),
        (Principal("a", "tenant_user", "nobody"), "nobody", 404, "not found"),
        (Principal("a", "tenant_admin", "small", "starter"), "small", 403, "enterprise subscription tier"),
        (Principal("a", "platform_admin"), "small", 403, "on the starter tier"),
        (Principal("a", "tenant_admin", "outlet", "enterprise"), "outlet", 403, "is an outlet of group"),
    ],
)
def test_enterprise_gate(principal: Principal, parent: str, status: int | None, says: str | None) -> None:
    # GIVEN the parent as the tenant service describes it (None: unknown)
    known = {t.id: t for t in TENANTS}.get(parent)
    # WHEN the gate looks at the caller and the parent
    if status is None:
        require_enterprise_member(principal, parent, known)
        return
    with pytest.raises(AuthError) as caught:
        require_enterprise_member(principal, parent, known)
    # THEN the refusal says why
    assert caught.value.status == status and says in caught.value.message, caught.value.message
