"""Redis: run locks with fencing tokens, and the short dispatch lock (the serverless stand-in for leader
election)."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from chalicelib.adapters.redis_client import RELEASE_IF_OWNER, get_redis
from chalicelib.errors import LockUnavailableError
from chalicelib.settings import get_settings


def _text(value: bytes | str | None) -> str | None:
    """The client answers bytes (no decode_responses): lock values are ASCII tokens."""
    return value.decode() if isinstance(value, bytes) else value


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

    def acquire(self, key: str, token: str, ttl_seconds: int, *, floor: int = 0) -> Lock | None:
        """Take the lock for `token`; None if another token holds it. Re-acquiring with the holder's
        own token succeeds (an at-least-once redelivery of the same dispatch).

        The fencing number handed out is always above `floor` (the highest number recorded elsewhere,
        e.g. in Postgres): Redis may have lost its counter (a flush, a failover without persistence) and
        a number at or below one already registered would fence the new run off as superseded."""
        try:
            # One script: a redelivery can never read the fence between another holder's SET and INCR.
            state, fence = self._client.eval(
                _ACQUIRE, 2, key, f"{key}:fence", token, ttl_seconds * 1000, max(int(floor), 0)
            )
        except redis.RedisError as exc:
            raise LockUnavailableError(f"Redis unreachable, no run started: {exc}") from exc
        if int(state) == 1:
            return Lock(key, token, int(fence))
        if int(state) == 0:
            return Lock(key, token, int(fence), fresh=False)
        return None

    def holder(self, key: str) -> str | None:
        try:
            value = self._client.get(key)
        except redis.RedisError as exc:
            raise LockUnavailableError(f"Redis unreachable: {exc}") from exc
        return _text(value)

    def current_fence(self, key: str) -> int:
        """The last fencing number handed out for the lock (0 if never taken)."""
        try:
            return int(self._client.get(f"{key}:fence") or 0)
        except redis.RedisError as exc:
            raise LockUnavailableError(f"Redis unreachable: {exc}") from exc

    def release(self, key: str, token: str) -> bool:
        try:
            return bool(self._client.eval(RELEASE_IF_OWNER, 1, key, token))
        except redis.RedisError as exc:
            raise LockUnavailableError(f"Redis unreachable, lock {key} not released: {exc}") from exc

    def held(self) -> list[dict[str, object]]:
        """Every run lock held now: key, workflow, scope, holder, remaining TTL (ms) and fencing number."""
        prefix = f"{self._prefix}:run-lock:"
        held: list[dict[str, object]] = []
        try:
            for raw in self._client.scan_iter(match=f"{prefix}*", count=500):
                key = raw.decode()
                if key.endswith(":fence"):
                    continue
                holder = self._client.get(key)
                if holder is None:
                    continue
                workflow, _, scope = key[len(prefix) :].partition(":")
                ttl = self._client.pttl(key)
                fence = self._client.get(f"{key}:fence")
                held.append(
                    {
                        "key": key,
                        "workflow_name": workflow,
                        "scope": scope,
                        "holder": _text(holder),
                        "ttl_ms": ttl if ttl is not None and ttl >= 0 else None,
                        "fencing_token": int(fence) if fence is not None else None,
                    }
                )
        except redis.RedisError as exc:
            raise LockUnavailableError(f"Redis unreachable: {exc}") from exc
        return sorted(held, key=lambda lock: str(lock["key"]))


# Take the lock and its fencing number atomically; a re-acquisition by the holder's own token (a
# redelivery) gets the holder's number back. A fresh number is above ARGV[3], the floor recorded outside
# Redis. Returns {1, fence} (taken), {0, fence} (ours already), {-1, 0}.
_ACQUIRE = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
    local floor = tonumber(ARGV[3])
    if tonumber(redis.call('get', KEYS[2]) or '0') < floor then
        redis.call('set', KEYS[2], floor)
    end
    return {1, redis.call('incr', KEYS[2])}
end
if redis.call('get', KEYS[1]) == ARGV[1] then
    return {0, tonumber(redis.call('get', KEYS[2]) or '0')}
end
return {-1, 0}
"""

# Extend the key's TTL only if it still holds our token (a heartbeat never revives someone else's lock).
_EXTEND_IF_OWNER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


@dataclass(frozen=True)
class DispatchLease:
    key: str
    token: str
    fencing_token: int
    ttl_seconds: int


class DispatchLocks:
    """The dispatch lock: one dispatcher at a time evaluates a workflow's firing (`SET NX PX`, short TTL,
    heartbeat by token, released by token). Waiting dispatchers see the holder instead of racing it."""

    def __init__(self, *, client: redis.Redis | None = None, prefix: str | None = None) -> None:
        self._client = client if client is not None else get_redis()
        self._prefix = prefix or get_settings().redis_key_prefix

    def key(self, name: str) -> str:
        return f"{self._prefix}:dispatch-lock:{name}"

    def acquire(self, name: str, token: str, ttl_seconds: int) -> DispatchLease | None:
        key = self.key(name)
        try:
            if not self._client.set(key, token, nx=True, px=ttl_seconds * 1000):
                return None
            fence = int(self._client.incr(f"{key}:fence"))
        except redis.RedisError as exc:
            raise LockUnavailableError(f"Redis unreachable, no run started (dispatch lock {name}): {exc}") from exc
        return DispatchLease(key, token, fence, ttl_seconds)

    def heartbeat(self, lease: DispatchLease) -> bool:
        """Extend the lease; False when it was lost (expired and maybe taken by another dispatcher)."""
        try:
            return bool(self._client.eval(_EXTEND_IF_OWNER, 1, lease.key, lease.token, lease.ttl_seconds * 1000))
        except redis.RedisError as exc:
            raise LockUnavailableError(f"Redis unreachable, dispatch lock not extended: {exc}") from exc

    def holder(self, name: str) -> tuple[str | None, int]:
        """(token, remaining ms) of the current holder; (None, 0) when free."""
        key = self.key(name)
        try:
            pipe = self._client.pipeline()
            pipe.get(key)
            pipe.pttl(key)
            value, ttl = pipe.execute()
        except redis.RedisError as exc:
            raise LockUnavailableError(f"Redis unreachable: {exc}") from exc
        return _text(value), max(int(ttl or 0), 0)

    def release(self, lease: DispatchLease) -> bool:
        try:
            return bool(self._client.eval(RELEASE_IF_OWNER, 1, lease.key, lease.token))
        except redis.RedisError:
            return False  # the TTL frees it; nothing depends on an early release
