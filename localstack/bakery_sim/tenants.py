"""Tenant fixtures: a hand-written demo set and a deterministic synthetic generator."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .data import NAMESPACE, unit

STATUSES = ("active", "suspended", "cancelled")
TIERS = ("starter", "professional", "enterprise")
TZ_SUBDIVISION = {"Europe/Madrid": "MD", "Atlantic/Canary": "CN", "Africa/Ceuta": "CE"}
_EPOCH = datetime(2023, 1, 9, 8, 0, tzinfo=UTC)


def tenant_id_for(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"tenant|{name}"))


def make_tenant(
    name: str,
    tier: str,
    *,
    status: str = "active",
    tz: str = "Europe/Madrid",
    subdivision: str | None = "MD",
    parent: str | None = None,
) -> dict:
    created = _EPOCH + timedelta(days=int(unit("created", name) * 600))
    return {
        "id": tenant_id_for(name),
        "name": name,
        "status": status,
        "subscription_tier": tier,
        "timezone": tz,
        "parent_tenant_id": tenant_id_for(parent) if parent else None,
        "country": "ES",
        "subdivision": subdivision,
        "created_at": created.isoformat(),
    }


def demo_tenants() -> list[dict]:
    group = "Panadería Central Group"
    return [
        make_tenant(group, "enterprise"),
        make_tenant("Panadería Central - Sol", "enterprise", parent=group),
        make_tenant("Panadería Central - Chamberí", "enterprise", parent=group),
        make_tenant("Panadería Central - Salamanca", "enterprise", parent=group),
        make_tenant("Horno San Onofre", "professional"),
        make_tenant("Pastelería El Retiro", "professional"),
        make_tenant("Forn de Gràcia", "professional", subdivision="CT"),
        make_tenant("Confitería Triana", "professional", subdivision="AN"),
        make_tenant("La Miga de Lavapiés", "starter"),
        make_tenant("Obrador Dulce Malasaña", "starter"),
        make_tenant("Panadería Las Palmas", "starter", tz="Atlantic/Canary", subdivision="CN"),
        make_tenant("Masa Madre Getafe", "starter", status="suspended"),
        make_tenant("Horno de Leña Alcalá", "starter", status="cancelled"),
    ]


LARGE_NETWORK_PARENT = "Obrador Central Madrid"


def enterprise_network(outlets: int = 50, parent: str = LARGE_NETWORK_PARENT) -> list[dict]:
    """A second, larger enterprise network beside the demo's: a central production site and `outlets`
    retail outlets (its children), all active in Madrid. Each outlet's demand is its own (catalogue and
    volumes are seeded by its id, see data.profile)."""
    return [
        make_tenant(parent, "enterprise"),
        *(make_tenant(f"{parent} - Tienda {i:02d}", "enterprise", parent=parent) for i in range(1, outlets + 1)),
    ]


# Spain's regions (ISO 3166-2:ES subdivisions the `holidays` package knows) and the zone each keeps.
REGION_TIMEZONE = {"CN": "Atlantic/Canary", "CE": "Africa/Ceuta", "ML": "Africa/Ceuta"}


def synthetic_tenants(
    n: int, timezones: Sequence[str] | None = None, regions: Sequence[str] | None = None
) -> list[dict]:
    """n active tenants; tiers cycle 10% enterprise / 30% professional / 60% starter.

    `regions` (e.g. MD, CT, AN, CN) spreads them over Spanish regions in turn, each in its region's zone
    (Europe/Madrid unless REGION_TIMEZONE says otherwise), so regional holidays split a scope; otherwise
    `timezones` in turn, with each zone's default region.
    """
    zones = list(timezones or ["Europe/Madrid"])
    out = []
    for i in range(n):
        tier = "enterprise" if i % 10 == 0 else "professional" if i % 10 in (1, 4, 7) else "starter"
        if regions:
            subdivision = regions[i % len(regions)]
            tz = REGION_TIMEZONE.get(subdivision, "Europe/Madrid")
        else:
            tz = zones[i % len(zones)]
            subdivision = TZ_SUBDIVISION.get(tz)
        out.append(make_tenant(f"Panadería Sintética {i:05d}", tier, tz=tz, subdivision=subdivision))
    return out


def normalize_tenant(raw: object, index: int = 0) -> dict:
    """Validate one tenant given to PUT /sim/tenants; ValueError names the field."""
    where = f"tenants[{index}]"
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: must be an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}.name: required non-empty string")
    t = make_tenant(name, "starter")
    t.update({k: v for k, v in raw.items() if k in t})
    for key in ("id", "parent_tenant_id"):
        if t[key] is not None or key == "id":
            try:
                t[key] = str(uuid.UUID(str(t[key])))
            except ValueError:
                raise ValueError(f"{where}.{key}: must be a UUID") from None
    if t["status"] not in STATUSES:
        raise ValueError(f"{where}.status: must be one of {', '.join(STATUSES)}")
    if t["subscription_tier"] not in TIERS:
        raise ValueError(f"{where}.subscription_tier: must be one of {', '.join(TIERS)}")
    try:
        ZoneInfo(str(t["timezone"]))
    except (ValueError, OSError, ZoneInfoNotFoundError):
        raise ValueError(f"{where}.timezone: must be an IANA time zone name") from None
    return t
