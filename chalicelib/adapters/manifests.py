"""S3: the tenant manifest a run's Distributed Map reads (the tenant list never travels in the state)."""

from __future__ import annotations

import json
from typing import Any


def write_manifest(bucket: str, key: str, items: list[dict[str, Any]]) -> None:
    import boto3  # only ListTenants needs it at run time (the other steps' cold start stays lean)

    body = json.dumps(items, separators=(",", ":")).encode()
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
