"""Redis cache of the enterprise network views, per parent: the network (parent and outlets) and each view
(route and query), kept for ENTERPRISE_CACHE_TTL_SECONDS and dropped when a run covering the network closes.

Dropping is a generation number per parent: every entry is stored with the generation it was computed
under, and a run's close increments the generation of each network with a tenant in the run, so every
entry of that network is stale at once (also one being computed while the run closed). A lookup reads the
generation and the entries in one round trip (MGET).

A run knows its tenants, not their networks: storing a network also records, in one hash, the parent of
each of its members, which is what a close looks its tenants up in. Redis being down never fails a view:
the cache is skipped and the view computed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import LockUnavailableError
from chalicelib.settings import Settings, get_settings

MEMBERSHIP_TTL_SECONDS = 86400  # the member -> parent index outlives any entry; refreshed on each store
LOOKUP_CHUNK = 1000  # tenants per HMGET when a run closes


@dataclass(frozen=True)
class Lookup:
    """What the cache holds for a parent. `generation` None: the cache is off or unreachable (store nothing)."""

    generation: int | None = None
    network: str | None = None
    view: str | None = None


class ViewCache:
    def __init__(self, *, settings: Settings | None = None, client: Any | None = None) -> None:
        self._settings = settings or get_settings()
        self._client = client

    @property
    def ttl(self) -> int:
        return self._settings.enterprise_cache_ttl_seconds

    def _redis(self) -> Any:
        if self._client is None:
            from chalicelib.adapters.redis_client import get_redis

            self._client = get_redis()
        return self._client

    def _key(self, *parts: str) -> str:
        return ":".join((self._settings.redis_key_prefix, "enterprise", *parts))

    def _generation_key(self, parent_id: str) -> str:
        return self._key("generation", parent_id)

    def _membership_key(self) -> str:
        return self._key("members")

    def network_key(self, parent_id: str) -> str:
        return self._key("network", parent_id)

    def view_key(self, parent_id: str, view: str) -> str:
        digest = hashlib.blake2b(view.encode(), digest_size=12).hexdigest()
        return self._key("view", parent_id, digest)

    @staticmethod
    def _unwrap(raw: bytes | None, generation: int) -> str | None:
        """Entries are `<generation>\\n<payload>`: a payload of another generation is stale."""
        if raw is None:
            return None
        head, _, payload = raw.decode().partition("\n")
        return payload if head == str(generation) else None

    def _warn(self, what: str, exc: Exception) -> None:
        from chalicelib.observability import get_logger

        get_logger().warning(f"enterprise view cache: {what} skipped", extra={"error": str(exc)})

    def lookup(self, parent_id: str, view: str) -> Lookup:
        if self.ttl <= 0:
            return Lookup()
        import redis

        try:
            raw_generation, network, cached = self._redis().mget(
                [self._generation_key(parent_id), self.network_key(parent_id), self.view_key(parent_id, view)]
            )
        except (redis.RedisError, LockUnavailableError) as exc:
            self._warn("lookup", exc)
            return Lookup()
        generation = int(raw_generation or 0)
        return Lookup(generation, self._unwrap(network, generation), self._unwrap(cached, generation))

    def store(
        self,
        parent_id: str,
        generation: int | None,
        *,
        network: str | None = None,
        members: Sequence[str] = (),
        view: tuple[str, str] | None = None,
    ) -> None:
        """Store the network (and index its members) and/or a view `(view key, payload)`, under the
        generation the lookup saw."""
        if generation is None or self.ttl <= 0:
            return
        import redis

        try:
            pipe = self._redis().pipeline(transaction=False)
            if network is not None:
                pipe.set(self.network_key(parent_id), f"{generation}\n{network}", ex=self.ttl)
            if members:
                pipe.hset(self._membership_key(), mapping=dict.fromkeys(members, parent_id))
                pipe.expire(self._membership_key(), MEMBERSHIP_TTL_SECONDS)
            if view is not None:
                key, payload = view
                pipe.set(self.view_key(parent_id, key), f"{generation}\n{payload}", ex=self.ttl)
            pipe.execute()
        except (redis.RedisError, LockUnavailableError) as exc:
            self._warn("store", exc)

    def holds_networks(self) -> bool:
        """Whether any network is indexed (cached views may exist); False when the cache is off or down."""
        if self.ttl <= 0:
            return False
        import redis

        try:
            return bool(self._redis().exists(self._membership_key()))
        except (redis.RedisError, LockUnavailableError) as exc:
            self._warn("invalidation", exc)
            return False

    def invalidate_parents(self, parent_ids: Iterable[str]) -> list[str]:
        parents = sorted(set(parent_ids))
        if not parents:
            return []
        import redis

        try:
            pipe = self._redis().pipeline(transaction=False)
            for parent in parents:
                pipe.incr(self._generation_key(parent))
                pipe.expire(self._generation_key(parent), MEMBERSHIP_TTL_SECONDS)
            pipe.execute()
        except (redis.RedisError, LockUnavailableError) as exc:
            self._warn("invalidation", exc)
            return []
        return parents

    def invalidate_tenants(self, tenant_ids: Sequence[str]) -> list[str]:
        """Make every cached view of a network with one of these tenants stale; the parents concerned."""
        if not tenant_ids:
            return []
        import redis

        try:
            client = self._redis()
            pipe = client.pipeline(transaction=False)
            for start in range(0, len(tenant_ids), LOOKUP_CHUNK):
                pipe.hmget(self._membership_key(), list(tenant_ids[start : start + LOOKUP_CHUNK]))
            parents = {p.decode() for chunk in pipe.execute() for p in chunk if p is not None}
        except (redis.RedisError, LockUnavailableError) as exc:
            self._warn("invalidation", exc)
            return []
        return self.invalidate_parents(parents)
