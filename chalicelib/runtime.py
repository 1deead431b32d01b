"""The one reset of process-wide state, for whoever changes the environment of a running process: the
tests, the local stack and the local cloud's Lambda runner (on AWS a function's environment never changes
while its sandbox lives, so product code never calls this)."""

from __future__ import annotations

import sys


def reset() -> None:
    """Forget the cached settings and every client and engine built from them."""
    from chalicelib.adapters.manifests import forget_manifests, get_s3_client
    from chalicelib.adapters.platform import get_platform_client
    from chalicelib.adapters.redis_client import get_redis
    from chalicelib.adapters.secrets import get_secrets_provider
    from chalicelib.adapters.stepfunctions import forget_executions, get_probe_client, get_sfn_client
    from chalicelib.db.engine import dispose_engines
    from chalicelib.settings import get_settings

    get_settings.cache_clear()
    # boto3's default session keeps the credentials it first read from the environment.
    boto3 = sys.modules.get("boto3")
    if boto3 is not None:
        setattr(boto3, "DEFAULT_SESSION", None)  # noqa: B010 - typed as a module without that attribute
    for cached in (
        get_platform_client,
        get_redis,
        get_sfn_client,
        get_probe_client,
        get_s3_client,
        get_secrets_provider,
    ):
        cached.cache_clear()
    forget_manifests()
    forget_executions()
    dispose_engines()
