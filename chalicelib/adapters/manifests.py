"""S3: the tenant manifest a run's Distributed Map reads (the tenant list never travels in the state)."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def write_manifest(bucket: str, key: str, items: list[dict[str, Any]]) -> None:
    import boto3  # only ListTenants needs it at run time (the other steps' cold start stays lean)

    body = json.dumps(items, separators=(",", ":")).encode()
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def manifest_key(execution_name: str) -> str:
    """Where ListTenants writes a run's manifest in the manifest bucket."""
    return f"manifests/{execution_name}.json"


_KEPT = 4
_manifests: OrderedDict[tuple[str, str], tuple[dict[str, Any], ...]] = OrderedDict()
_manifests_lock = threading.Lock()


def read_manifest(bucket: str, key: str) -> tuple[dict[str, Any], ...]:
    """A run's manifest (its tenants in Map order), or () when there is none yet (the run has not listed
    its tenants, or never will). A manifest is written once per run, so the last few read are kept."""
    with _manifests_lock:
        if (bucket, key) in _manifests:
            _manifests.move_to_end((bucket, key))
            return _manifests[(bucket, key)]
    client = get_s3_client()
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        return ()
    items = json.loads(body)
    found = tuple(i for i in items if isinstance(i, dict)) if isinstance(items, list) else ()
    with _manifests_lock:
        _manifests[(bucket, key)] = found
        while len(_manifests) > _KEPT:
            _manifests.popitem(last=False)
    return found


def forget_manifests() -> None:
    with _manifests_lock:
        _manifests.clear()


@cache
def get_s3_client() -> S3Client:
    """One client per process (the endpoint from AWS_ENDPOINT_URL on the local cloud);
    `get_s3_client.cache_clear()` forgets it."""
    import boto3

    return boto3.client("s3")
