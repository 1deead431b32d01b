"""Deterministic synthetic bakery data: catalogue, demand, sales and derived plans.

Everything is a pure function of (tenant id, tier, date), seeded through blake2b so
results are identical across processes. Per-tenant profiles and per-day ingredient
usage are cached because the orchestrator hits the same tenants many times per run.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

NAMESPACE = uuid.UUID("6b3f0c52-8d1e-5a47-b0c9-2e7d41f9a35c")

# Weekends sell more, Monday is the quiet day.
WEEKDAY_FACTOR = (0.85, 0.9, 0.95, 1.0, 1.1, 1.4, 1.3)
TIER_SCALE = {"starter": 1.0, "professional": 2.5, "enterprise": 6.0}
NOISE_SIGMA = 0.12  # relative sd of actual sales around the forecast (MAPE ~10%)
Z80 = 1.2816  # two-sided 80% interval

# ingredient -> (unit, price per unit in EUR)
INGREDIENTS: dict[str, tuple[str, float]] = {
    "flour": ("kg", 0.55),
    "wholemeal_flour": ("kg", 0.8),
    "rye_flour": ("kg", 0.95),
    "butter": ("kg", 7.5),
    "sugar": ("kg", 1.1),
    "yeast": ("kg", 4.0),
    "salt": ("kg", 0.4),
    "eggs": ("unit", 0.22),
    "milk": ("l", 0.95),
    "chocolate": ("kg", 9.0),
    "olive_oil": ("l", 8.0),
    "almonds": ("kg", 11.0),
}

# slug, display name, starter base units/day, batch size, recipe per unit
CATALOG: tuple[tuple[str, str, float, int, dict[str, float]], ...] = (
    ("baguette", "Baguette", 60, 20, {"flour": 0.16, "yeast": 0.003, "salt": 0.003}),
    ("barra", "Barra de pan", 90, 30, {"flour": 0.18, "yeast": 0.003, "salt": 0.004}),
    ("pan-pueblo", "Pan de pueblo", 30, 12, {"flour": 0.35, "yeast": 0.004, "salt": 0.007}),
    ("pan-integral", "Pan integral", 20, 10, {"wholemeal_flour": 0.3, "yeast": 0.004, "salt": 0.006}),
    ("pan-centeno", "Pan de centeno", 14, 8, {"rye_flour": 0.25, "flour": 0.1, "yeast": 0.004, "salt": 0.006}),
    ("chapata", "Chapata", 25, 12, {"flour": 0.2, "olive_oil": 0.01, "yeast": 0.003, "salt": 0.004}),
    (
        "croissant",
        "Croissant",
        45,
        24,
        {"flour": 0.05, "butter": 0.025, "sugar": 0.006, "yeast": 0.002, "milk": 0.012, "eggs": 0.05},
    ),
    (
        "napolitana",
        "Napolitana de chocolate",
        35,
        24,
        {"flour": 0.05, "butter": 0.02, "sugar": 0.008, "chocolate": 0.015},
    ),
    ("palmera", "Palmera", 20, 16, {"flour": 0.04, "butter": 0.03, "sugar": 0.02}),
    ("magdalena", "Magdalena", 40, 30, {"flour": 0.025, "sugar": 0.025, "eggs": 0.4, "milk": 0.01, "olive_oil": 0.02}),
    ("ensaimada", "Ensaimada", 15, 10, {"flour": 0.06, "sugar": 0.015, "eggs": 0.2, "butter": 0.02, "yeast": 0.002}),
    (
        "bollo-suizo",
        "Bollo suizo",
        18,
        12,
        {"flour": 0.06, "butter": 0.01, "sugar": 0.015, "eggs": 0.1, "milk": 0.02, "yeast": 0.002},
    ),
    (
        "roscon",
        "Roscón de Reyes",
        12,
        6,
        {"flour": 0.3, "butter": 0.06, "sugar": 0.08, "eggs": 1.5, "milk": 0.08, "yeast": 0.01},
    ),
    ("tarta-santiago", "Tarta de Santiago", 10, 6, {"almonds": 0.25, "sugar": 0.25, "eggs": 4.0}),
    ("empanada", "Empanada gallega", 10, 5, {"flour": 0.4, "olive_oil": 0.05, "eggs": 0.5, "salt": 0.008}),
)


def digest(*parts: object) -> bytes:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()


def unit(*parts: object) -> float:
    """Uniform [0, 1) keyed by parts; stable across processes (unlike hash())."""
    return int.from_bytes(digest(*parts)[:8], "big") / 2.0**64


def stable_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join(map(str, parts))))


def _normal(*parts: object) -> float:
    # Box-Muller on two hash-derived uniforms: cheaper than seeding a Random per value.
    raw = digest(*parts)
    u1 = (int.from_bytes(raw[:8], "big") + 1) / (2.0**64 + 1)
    u2 = int.from_bytes(raw[8:], "big") / 2.0**64
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * u2)


@dataclass(frozen=True, eq=False)  # identity hash: profiles are cached singletons
class Product:
    product_id: str
    slug: str
    name: str
    base: float
    batch_size: int
    recipe: tuple[tuple[str, float], ...]
    seasonal: bool  # Christmas-only product


@dataclass(frozen=True, eq=False)
class Profile:
    tenant_id: str
    products: tuple[Product, ...]
    on_hand: dict[str, float]


@lru_cache(maxsize=65536)
def profile(tenant_id: str, tier: str) -> Profile:
    rng = random.Random(int.from_bytes(digest("catalog", tenant_id), "big"))
    picked = sorted(rng.sample(range(len(CATALOG)), rng.randint(6, 14)))
    scale = TIER_SCALE.get(tier, 1.0)
    products = tuple(
        Product(
            stable_id("product", tenant_id, slug),
            slug,
            name,
            round(base * scale * rng.uniform(0.7, 1.3), 1),
            batch,
            tuple(recipe.items()),
            slug == "roscon",
        )
        for slug, name, base, batch, recipe in (CATALOG[i] for i in picked)
    )
    avg_week = sum(WEEKDAY_FACTOR) / 7
    usage: dict[str, float] = {}
    for p in products:
        for ingredient, qty in p.recipe:
            usage[ingredient] = usage.get(ingredient, 0.0) + p.base * avg_week * qty
    # Stock covers 3-25 days so some tenants see stockouts inside a 14-day window.
    on_hand = {ing: round(u * rng.uniform(3.0, 25.0), 2) for ing, u in sorted(usage.items())}
    return Profile(tenant_id, products, on_hand)


@lru_cache(maxsize=8192)
def _day(day: date) -> tuple[str, float, float]:
    """(iso date, factor for regular products, factor for roscón) - shared by every tenant."""
    weekly = WEEKDAY_FACTOR[day.weekday()]
    winter = 1.0 + 0.06 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 20) / 365.25)
    # Christmas to Epiphany is roscón season; the rest of the year it barely sells.
    roscon = 5.0 if (day.month == 12 and day.day >= 20) or (day.month == 1 and day.day <= 6) else 0.4
    return day.isoformat(), weekly * winter, weekly * roscon


def expected(product: Product, day: date) -> float:
    return product.base * _day(day)[2 if product.seasonal else 1]


def actual(tenant_id: str, product: Product, day: date) -> int:
    noise = NOISE_SIGMA * _normal("sales", tenant_id, product.slug, day.isoformat())
    return max(0, round(expected(product, day) * (1.0 + noise)))


def _days(start: date, days: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(days)]


@lru_cache(maxsize=262144)
def daily_usage(prof: Profile, day: date) -> dict[str, float]:
    usage: dict[str, float] = {}
    for p in prof.products:
        units = expected(p, day)
        for ingredient, qty in p.recipe:
            usage[ingredient] = usage.get(ingredient, 0.0) + units * qty
    return usage


def forecast_doc(prof: Profile, start: date, days: int) -> dict:
    lo, hi = 1 - Z80 * NOISE_SIGMA, 1 + Z80 * NOISE_SIGMA
    calendar = [_day(d) for d in _days(start, days)]
    rows, total = [], 0.0
    for p in prof.products:
        for iso, regular, roscon in calendar:
            mean = p.base * (roscon if p.seasonal else regular)
            predicted = round(mean, 1)
            total += predicted
            rows.append(
                {
                    "product_id": p.product_id,
                    "sku": p.slug,
                    "product_name": p.name,
                    "date": iso,
                    "predicted_quantity": predicted,
                    "lower_bound": round(mean * lo, 1),
                    "upper_bound": round(mean * hi, 1),
                }
            )
    return {
        "forecast_id": stable_id("forecast", prof.tenant_id, start, days),
        "tenant_id": prof.tenant_id,
        "start_date": start.isoformat(),
        "days_ahead": days,
        "products": len(prof.products),
        "total_units": round(total, 1),
        "forecasts": rows,
    }


def validation_doc(prof: Profile, day: date) -> dict:
    pairs = [(round(expected(p, day), 1), actual(prof.tenant_id, p, day)) for p in prof.products]
    errors = [a - f for f, a in pairs]
    n = len(pairs)
    pct = [abs(a - f) / a for f, a in pairs if a > 0]  # zero-sales days have no percentage error
    mape = 100.0 * sum(pct) / max(1, len(pct))
    mean_a = sum(a for _, a in pairs) / n
    ss_tot = sum((a - mean_a) ** 2 for _, a in pairs)
    ss_res = sum(e * e for e in errors)
    return {
        "tenant_id": prof.tenant_id,
        "date": day.isoformat(),
        "products_validated": n,
        "mape": round(mape, 2),
        "mae": round(sum(abs(e) for e in errors) / n, 2),
        "rmse": round(math.sqrt(ss_res / n), 2),
        "r2": round(1.0 - ss_res / ss_tot, 4) if ss_tot else 0.0,
        "accuracy": round(max(0.0, 100.0 - mape), 2),
    }


def schedule_doc(prof: Profile, day: date, days: int, forecast_id: str | None) -> dict:
    items = []
    for p in prof.products:
        for d in _days(day, days):
            batches = made(p, d) // p.batch_size
            items.append(
                {
                    "product_id": p.product_id,
                    "sku": p.slug,
                    "product_name": p.name,
                    "date": d.isoformat(),
                    "quantity": float(batches * p.batch_size),
                    "batch_count": batches,
                }
            )
    return {
        "schedule_id": stable_id("schedule", prof.tenant_id, day, days, forecast_id),
        "tenant_id": prof.tenant_id,
        "date": day.isoformat(),
        "forecast_id": forecast_id,
        "batches": sum(i["batch_count"] for i in items),
        "total_units": sum(i["quantity"] for i in items),
        "items": items,
    }


def procurement_doc(prof: Profile, day: date, days: int) -> dict:
    required: dict[str, float] = dict.fromkeys(prof.on_hand, 0.0)
    for d in _days(day, days):
        for ingredient, qty in daily_usage(prof, d).items():
            required[ingredient] += qty
    items, cost = [], 0.0
    for ingredient, need in required.items():
        on_hand = prof.on_hand[ingredient]
        to_order = round(max(0.0, need - on_hand), 2)
        cost += to_order * INGREDIENTS[ingredient][1]
        items.append(
            {
                "ingredient": ingredient,
                "unit": INGREDIENTS[ingredient][0],
                "required_quantity": round(need, 2),
                "on_hand": on_hand,
                "to_order": to_order,
            }
        )
    return {
        "plan_id": stable_id("procurement", prof.tenant_id, day, days),
        "tenant_id": prof.tenant_id,
        "date": day.isoformat(),
        "days_ahead": days,
        "items": items,
        "total_items": len(items),
        "estimated_cost": round(cost, 2),
    }


def projection_doc(prof: Profile, day: date, days: int) -> dict:
    remaining = dict(prof.on_hand)
    risks: dict[str, dict] = {}
    for offset, d in enumerate(_days(day, days)):
        for ingredient, qty in daily_usage(prof, d).items():
            remaining[ingredient] -= qty
            if remaining[ingredient] < 0 and ingredient not in risks:
                risks[ingredient] = {
                    "ingredient": ingredient,
                    "stockout_date": d.isoformat(),
                    "days_until_stockout": offset,
                }
    return {
        "projection_id": stable_id("projection", prof.tenant_id, day, days),
        "tenant_id": prof.tenant_id,
        "date": day.isoformat(),
        "days_ahead": days,
        "items": len(prof.on_hand),
        "stockout_risks": sorted(risks.values(), key=lambda r: (r["days_until_stockout"], r["ingredient"])),
    }


def sales_doc(prof: Profile, day: date) -> dict:
    items = [
        {"product_id": p.product_id, "sku": p.slug, "product_name": p.name, "quantity": actual(prof.tenant_id, p, day)}
        for p in prof.products
    ]
    return {
        "tenant_id": prof.tenant_id,
        "date": day.isoformat(),
        "items": items,
        "total_units": sum(i["quantity"] for i in items),
    }


# --- enterprise networks: sales and waste over a period, forecast accuracy, the central plan, deliveries ---
BASELINE_WASTE_RATE = (0.10, 0.20)  # an outlet's own waste share before forecasts: 10-20% of what it made
CAPACITY_FACTOR = (0.90, 1.15)  # the central plan makes 90-115% of the network's demand for a product
ROUTE_SIZE = 8  # outlets per delivery route
BATCH_SIZE = {slug: batch for slug, _, _, batch, _ in CATALOG}
NAME = {slug: name for slug, name, _, _, _ in CATALOG}


def span(start: date, end: date) -> list[date]:
    return _days(start, (end - start).days + 1)


def made(product: Product, day: date) -> int:
    """Units baked for a product on a day: whole batches covering the rounded forecast (as schedule_doc)."""
    return max(1, math.ceil(round(expected(product, day), 1) / product.batch_size)) * product.batch_size


def baseline_waste_rate(tenant_id: str) -> float:
    lo, hi = BASELINE_WASTE_RATE
    return round(lo + (hi - lo) * unit("baseline-waste", tenant_id), 4)


def capacity_factor(parent_id: str, sku: str) -> float:
    lo, hi = CAPACITY_FACTOR
    return round(lo + (hi - lo) * unit("capacity", parent_id, sku), 4)


def sales_summary_doc(prof: Profile, start: date, end: date) -> dict:
    days = [
        {"date": d.isoformat(), "units": sum(actual(prof.tenant_id, p, d) for p in prof.products)}
        for d in span(start, end)
    ]
    return {
        "tenant_id": prof.tenant_id,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "days": days,
        "total_units": sum(d["units"] for d in days),
    }


def waste_doc(prof: Profile, start: date, end: date) -> dict:
    """What each day's bake left unsold, and the outlet's own baseline (its waste share before forecasts)
    applied to what it made in the period."""
    days = []
    for d in span(start, end):
        produced = sold = waste = 0
        for p in prof.products:
            baked, bought = made(p, d), actual(prof.tenant_id, p, d)
            produced, sold, waste = produced + baked, sold + bought, waste + max(0, baked - bought)
        days.append({"date": d.isoformat(), "produced_units": produced, "sold_units": sold, "waste_units": waste})
    produced_total = sum(d["produced_units"] for d in days)
    rate = baseline_waste_rate(prof.tenant_id)
    return {
        "tenant_id": prof.tenant_id,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "days": days,
        "produced_units": produced_total,
        "waste_units": sum(d["waste_units"] for d in days),
        "baseline_waste_rate": rate,
        "baseline_waste_units": round(produced_total * rate),
    }


def accuracy_doc(prof: Profile, start: date, end: date) -> dict:
    """The forecasting service's accuracy over a period: each day's MAPE (as validation_doc) and their mean."""
    days = [{"date": d.isoformat(), "mape": validation_doc(prof, d)["mape"]} for d in span(start, end)]
    return {
        "tenant_id": prof.tenant_id,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "days": days,
        "mape": round(sum(d["mape"] for d in days) / len(days), 2),
    }


def network_plan_doc(parent_id: str, outlets: list[Profile], start: date, days: int) -> dict:
    """The central production site's plan for its network: per product and day, the outlets' rounded
    expected demand times the site's capacity factor for that product, in whole batches."""
    need: dict[tuple[str, date], int] = {}
    for prof in outlets:
        for p in prof.products:
            for d in _days(start, days):
                need[(p.slug, d)] = need.get((p.slug, d), 0) + round(expected(p, d))
    items = []
    for sku in sorted({slug for slug, _ in need}):
        factor, batch = capacity_factor(parent_id, sku), BATCH_SIZE[sku]
        for d in _days(start, days):
            batches = max(1, math.ceil(need.get((sku, d), 0) * factor / batch))
            items.append(
                {
                    "product_id": stable_id("product", parent_id, sku),
                    "sku": sku,
                    "product_name": NAME[sku],
                    "date": d.isoformat(),
                    "quantity": float(batches * batch),
                    "batch_count": batches,
                }
            )
    return {
        "schedule_id": stable_id("network-schedule", parent_id, start, days),
        "tenant_id": parent_id,
        "scope": "network",
        "outlets": len(outlets),
        "start_date": start.isoformat(),
        "days_ahead": days,
        "batches": sum(i["batch_count"] for i in items),
        "total_units": sum(i["quantity"] for i in items),
        "items": items,
    }


def shipment_status(parent_id: str, outlet_id: str, day: date) -> str:
    u = unit("shipment", parent_id, outlet_id, day.isoformat())
    return "pending" if u < 0.2 else "in_transit" if u < 0.55 else "delivered" if u < 0.9 else "delayed"


def routes_doc(parent_id: str, outlets: list[tuple[dict, Profile]], day: date) -> dict:
    """The distribution service's delivery routes of a central site on a day: its outlets in id order,
    ROUTE_SIZE stops per route, one shipment per outlet with a seeded status."""
    ordered = sorted(outlets, key=lambda pair: pair[0]["id"])
    routes = []
    for n, first in enumerate(range(0, len(ordered), ROUTE_SIZE), start=1):
        stops = []
        for seq, (tenant, prof) in enumerate(ordered[first : first + ROUTE_SIZE], start=1):
            status = shipment_status(parent_id, tenant["id"], day)
            stop = {
                "sequence": seq,
                "outlet_id": tenant["id"],
                "outlet_name": tenant["name"],
                "shipment_id": stable_id("shipment", parent_id, tenant["id"], day),
                "status": status,
                "units": sum(round(expected(p, day)) for p in prof.products),
                "eta": f"{6 + seq // 2:02d}:{30 * (seq % 2):02d}",
            }
            if status == "delayed":
                stop["delay_minutes"] = 10 + int(50 * unit("delay", parent_id, tenant["id"], day.isoformat()))
            stops.append(stop)
        statuses = {s["status"] for s in stops}
        route_status = (
            "completed" if statuses == {"delivered"} else "scheduled" if statuses == {"pending"} else "active"
        )
        routes.append(
            {
                "route_id": stable_id("route", parent_id, day, n),
                "name": f"Ruta {n}",
                "vehicle": f"VAN-{n:02d}",
                "departure": "05:30",
                "status": route_status,
                "stops": stops,
            }
        )
    return {"tenant_id": parent_id, "date": day.isoformat(), "routes": routes}
