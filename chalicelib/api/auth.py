"""Who is calling, and what they may see.

A bearer JWT carries the caller: `sub`, `tenant_id`, `role` (platform_admin | tenant_admin | tenant_user) and
`tier` (the tenant's subscription tier; `subscription_tier` is accepted too). Locally the token is HS256 with
JWT_SECRET; a real identity provider plugs in through AUTH_VERIFIER="package.module:factory", where the
factory takes the Settings and returns an object with `verify(token) -> Principal`.
"""

from __future__ import annotations

import hmac
import importlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, Protocol

from chalicelib.settings import Settings, get_settings

Role = Literal["platform_admin", "tenant_admin", "tenant_user"]
ROLES: tuple[str, ...] = ("platform_admin", "tenant_admin", "tenant_user")
TIERS: tuple[str, ...] = ("starter", "professional", "enterprise")


class AuthError(Exception):
    """Authentication failed (401) or the caller may not do this (403). `code` is the API error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def unauthenticated(message: str) -> AuthError:
    return AuthError(401, "unauthorized", message)


def forbidden(message: str) -> AuthError:
    return AuthError(403, "forbidden", message)


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    tenant_id: str | None = None
    tier: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "platform_admin"

    @property
    def tenant_scope(self) -> str | None:
        """None for a platform admin (sees everything); the caller's tenant id otherwise."""
        return None if self.is_admin else self.tenant_id


class Verifier(Protocol):
    def verify(self, token: str) -> Principal: ...


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """Claims -> Principal, or a 401 naming the claim that is missing or wrong."""
    subject, role = claims.get("sub"), claims.get("role")
    tenant_id = claims.get("tenant_id")
    tier = claims.get("tier", claims.get("subscription_tier"))
    if not isinstance(subject, str) or not subject:
        raise unauthenticated("token has no subject (sub claim)")
    if role not in ROLES:
        raise unauthenticated(f"token role claim must be one of {', '.join(ROLES)}")
    if tenant_id is not None and (not isinstance(tenant_id, str) or not tenant_id):
        raise unauthenticated("token tenant_id claim must be a non-empty string")
    if role != "platform_admin" and not tenant_id:
        raise unauthenticated(f"token for role {role} has no tenant_id claim")
    if tier is not None and tier not in TIERS:
        raise unauthenticated(f"token tier claim must be one of {', '.join(TIERS)}")
    return Principal(subject=subject, role=role, tenant_id=tenant_id, tier=tier)


def check_lifetime(claims: dict[str, Any], *, max_lifetime: int, leeway: int, now: float | None = None) -> None:
    """Refuse (401) a token that would stay valid longer than `max_lifetime` seconds: its `exp` further
    than that from now, or from its `iat`. A stolen long-lived token is a standing key."""
    now = time.time() if now is None else now
    exp, iat = claims.get("exp"), claims.get("iat")
    hours = f"{max_lifetime / 3600:g} h"
    if isinstance(exp, int | float) and exp - now > max_lifetime + leeway:
        raise unauthenticated(f"token lifetime exceeds the maximum of {hours} (exp is too far in the future)")
    if isinstance(exp, int | float) and isinstance(iat, int | float) and exp - iat > max_lifetime + leeway:
        raise unauthenticated(f"token lifetime exceeds the maximum of {hours} (exp - iat)")


class HS256Verifier:
    """Shared-secret tokens (local and small deployments)."""

    def __init__(
        self,
        secret: str,
        *,
        issuer: str = "",
        audience: str = "",
        leeway: int = 30,
        max_lifetime: int = 24 * 3600,
    ) -> None:
        if not secret:
            raise ValueError("HS256Verifier needs a secret")
        self._secret, self._issuer, self._audience, self._leeway = secret, issuer, audience, leeway
        self._max_lifetime = max_lifetime

    def verify(self, token: str) -> Principal:
        import jwt

        options: Any = {"require": ["exp", "sub"]}  # jwt's Options TypedDict
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options=options,
                leeway=self._leeway,
                issuer=self._issuer or None,
                audience=self._audience or None,
            )
        except jwt.ExpiredSignatureError:
            raise unauthenticated("token expired") from None
        except jwt.MissingRequiredClaimError as exc:
            raise unauthenticated(f"token is missing the {exc.claim} claim") from None
        except jwt.InvalidAudienceError:
            raise unauthenticated("token audience is not this API") from None
        except jwt.InvalidIssuerError:
            raise unauthenticated("token issuer is not trusted") from None
        except jwt.InvalidTokenError as exc:
            raise unauthenticated(f"invalid token: {exc}") from None
        check_lifetime(claims, max_lifetime=self._max_lifetime, leeway=self._leeway)
        return principal_from_claims(claims)


def issue_token(
    *,
    subject: str,
    role: str,
    tenant_id: str | None = None,
    tier: str | None = None,
    ttl_seconds: int = 12 * 3600,
    secret: str | None = None,
    settings: Settings | None = None,
    now: float | None = None,
) -> str:
    """An HS256 token (local runs, tests, scripts). A real deployment gets tokens from its identity provider."""
    import jwt

    settings = settings or get_settings()
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"sub": subject, "role": role, "iat": issued, "exp": issued + ttl_seconds}
    if tenant_id is not None:
        claims["tenant_id"] = tenant_id
    if tier is not None:
        claims["tier"] = tier
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    key = secret or settings.jwt_secret
    if not key:
        raise ValueError(f"JWT_SECRET: required on stage {settings.stage!r} to issue a token")
    return jwt.encode(claims, key, algorithm="HS256")


def get_verifier(settings: Settings | None = None) -> Verifier:
    settings = settings or get_settings()
    return _verifier_for(settings)


@lru_cache(maxsize=8)
def _verifier_for(settings: Settings) -> Verifier:
    if settings.auth_verifier == "hs256":
        if not settings.jwt_secret:  # only a development stage runs without one (on the published secret)
            from chalicelib.observability import get_logger

            get_logger().error("JWT_SECRET is not set: the API refuses every token", extra={"stage": settings.stage})
            raise AuthError(
                503,
                "unavailable",
                f"token verification is not configured: JWT_SECRET is required on stage {settings.stage!r}",
            )
        return HS256Verifier(
            settings.jwt_secret,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            leeway=settings.jwt_leeway_seconds,
            max_lifetime=settings.jwt_max_lifetime_seconds,
        )
    module_name, _, attr = settings.auth_verifier.partition(":")
    if not attr:
        raise ValueError(f"AUTH_VERIFIER: expected 'hs256' or 'package.module:factory', got {settings.auth_verifier!r}")
    factory: Callable[[Settings], Verifier] = getattr(importlib.import_module(module_name), attr)
    return factory(settings)


def is_scrape_token(headers: dict[str, str] | Any) -> bool:
    """The request carries `Authorization: Bearer <METRICS_TOKEN>` (never true when no token is set)."""
    expected = get_settings().metrics_token
    if not expected or headers is None:
        return False
    value = headers.get("authorization") or headers.get("Authorization") or ""
    scheme, _, token = value.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())


def authenticate(headers: dict[str, str] | Any, verifier: Verifier | None = None) -> Principal:
    """The Authorization header -> the caller, or a 401 saying what is wrong."""
    value = None
    for name in ("authorization", "Authorization"):
        value = headers.get(name) if headers is not None else None
        if value is not None:
            break
    if not value:
        raise unauthenticated("missing bearer token (Authorization: Bearer <jwt>)")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthenticated("Authorization header must be 'Bearer <jwt>'")
    return (verifier or get_verifier()).verify(token.strip())


# --- authorisation ----------------------------------------------------------------------------------------
def require_role(principal: Principal, roles: Iterable[str]) -> None:
    allowed = tuple(roles)
    if principal.role not in allowed:
        raise forbidden(f"this route needs role {' or '.join(allowed)}; the token has {principal.role}")


def require_network_caller(principal: Principal, parent_tenant_id: str) -> None:
    """First gate of the enterprise routes, before anything is read: a platform admin may look at any
    network; any other caller only at its own tenant's. An outlet's users get 403 on their parent's network
    view, as does any other tenant (the same answer whether the parent exists or not)."""
    if principal.is_admin:
        return
    if (principal.tenant_id or "").lower() != parent_tenant_id.lower():
        raise forbidden(
            f"the enterprise network view of {parent_tenant_id} is for its own users (the parent tenant) and "
            f"platform admins; this token belongs to tenant {principal.tenant_id}"
        )


def require_enterprise_member(principal: Principal, parent_tenant_id: str, parent: Any | None) -> None:
    """Gate of the enterprise routes, with the parent as the tenant service describes it (None: unknown).

    The caller passes `require_network_caller`; then an unknown parent is 404, a tenant that is itself an
    outlet (it has a parent) has no network to show (403), and the parent must be on the enterprise
    subscription tier (403 naming the tier it is on). The tier is the tenant service's, not the token's
    claim (a token issued before an upgrade or a downgrade says what the tier was then)."""
    require_network_caller(principal, parent_tenant_id)
    if parent is None:
        raise AuthError(404, "not_found", f"tenant {parent_tenant_id} not found")
    parent_of_parent = getattr(parent, "parent_tenant_id", None)
    if parent_of_parent:
        raise forbidden(
            f"tenant {parent_tenant_id} is an outlet of {parent_of_parent}: the enterprise network view belongs "
            "to the parent tenant"
        )
    tier = getattr(parent, "subscription_tier", None)
    if tier != "enterprise":
        raise forbidden(
            f"the enterprise network view needs the enterprise subscription tier; tenant {parent_tenant_id} "
            f"is on the {tier} tier"
        )
