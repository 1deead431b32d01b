"""The Redis connection every Redis adapter shares (run locks, dispatch lock, step cache, semaphores)."""

from __future__ import annotations

from functools import cache

import redis

from chalicelib.errors import LockUnavailableError
from chalicelib.settings import get_settings

# Delete the key only if it still holds our token: nobody releases a lock or marker someone else took over.
RELEASE_IF_OWNER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


@cache
def get_redis() -> redis.Redis:
    """Built once per process (a warm Lambda reuses it); `get_redis.cache_clear()` forgets it."""
    url = get_settings().redis_url
    if not url:
        raise LockUnavailableError("REDIS_URL is not set: runs need Redis for their locks")
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)
