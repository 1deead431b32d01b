"""Redis: run locks with fencing tokens (the serverless stand-in for leader election)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import redis

from chalicelib.errors import LockUnavailableError
from chalicelib.settings import get_settings

# Delete the key only if it still holds our token: a run never releases a lock someone else took over.
_RELEASE_IF_OWNER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


@dataclass(frozen=True)
class Lock:
    key: str
    token: str
    fencing_token: int
    fresh: bool = True  # False when the token already held it (a redelivery of the same dispatch)


class RunLocks:
    """`SET NX PX` locks; each successful acquisition also takes a strictly increasing fencing number."""

    def __init__(self, *, client: redis.Redis | None = None, prefix: str | None = None) -> None:
        self._client = client if client is not None else get_redis()
        self._prefix = prefix or get_settings().redis_key_prefix

    def key(self, workflow: str, scope: str) -> str:
        return f"{self._prefix}:run-lock:{workflow}:{scope}"

    def acquire(self, key: str, token: str, ttl_seconds: int) -> Lock | None:
        """Take the lock for `token`; None if another token holds it. Re-acquiring with the holder's
        own token succeeds (an at-least-once redelivery of the same dispatch)."""
        try:
            if self._client.set(key, token, nx=True, px=ttl_seconds * 1000):
                fence = int(self._client.incr(f"{key}:fence"))
                return Lock(key, token, fence)
            holder = self._client.get(key)
            if holder is not None and holder.decode() == token:
                fence = int(self._client.get(f"{key}:fence") or 0)
                return Lock(key, token, fence, fresh=False)
            return None
        except redis.RedisError as exc:
            raise LockUnavailableError(f"Redis unreachable, no run started: {exc}") from exc

    def holder(self, key: str) -> str | None:
        try:
            value = self._client.get(key)
        except redis.RedisError as exc:
            raise LockUnavailableError(f"Redis unreachable: {exc}") from exc
        return value.decode() if value is not None else None

    def release(self, key: str, token: str) -> bool:
        try:
            return bool(self._client.eval(_RELEASE_IF_OWNER, 1, key, token))
        except redis.RedisError as exc:
            raise LockUnavailableError(f"Redis unreachable, lock {key} not released: {exc}") from exc


def get_redis() -> redis.Redis:
    url = get_settings().redis_url
    if not url:
        raise LockUnavailableError("REDIS_URL is not set: runs need Redis for their locks")
    return _redis_for(url)


@cache
def _redis_for(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)


get_redis.cache_clear = _redis_for.cache_clear  # type: ignore[attr-defined]
