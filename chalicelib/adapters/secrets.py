"""Secrets resolved at cold start: for each secret setting NAME whose `NAME_SECRET_ARN` is set in the
function's environment (the CloudFormation template puts only ARNs there, never values), the value of
that Secrets Manager secret, read through Powertools' parameters utility and cached for
`SECRET_MAX_AGE_SECONDS` (a warm sandbox does not read it again; a rotated secret is picked up after that).

`chalicelib.settings` reads these values before the environment (`app.py` registers `resolve` as a
settings source), so every function learns DATABASE_URL, REDIS_URL, RABBITMQ_URL and JWT_SECRET the
same way, and a function whose environment names no secret reads none (and needs no permission).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Any

SECRET_SETTINGS = ("DATABASE_URL", "REDIS_URL", "RABBITMQ_URL", "JWT_SECRET")
ARN_SUFFIX = "_SECRET_ARN"
SECRET_MAX_AGE_SECONDS = 300


class SecretUnavailableError(RuntimeError):
    """A secret named by the environment could not be read; the message names the variable and the secret."""


@cache
def get_secrets_provider() -> Any:
    """One Powertools SecretsProvider per process (its client and its cache); forgotten by runtime.reset()."""
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider()


def references(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """{setting: secret ARN} for every secret setting the environment names."""
    environ = os.environ if environ is None else environ
    return {name: environ[name + ARN_SUFFIX] for name in SECRET_SETTINGS if environ.get(name + ARN_SUFFIX)}


def resolve(environ: Mapping[str, str] | None = None, *, provider: Any = None) -> dict[str, str]:
    """{setting: value} for the secrets the environment names (empty, with no AWS call, when it names none)."""
    wanted = references(environ)
    if not wanted:
        return {}
    provider = provider or get_secrets_provider()
    values = {}
    for name, arn in wanted.items():
        try:
            value = provider.get(arn, max_age=SECRET_MAX_AGE_SECONDS)
        except Exception as exc:  # any failure: reported naming the variable and the secret
            raise SecretUnavailableError(f"{name}{ARN_SUFFIX}: cannot read secret {arn}: {exc}") from exc
        if not isinstance(value, str) or not value:
            raise SecretUnavailableError(f"{name}{ARN_SUFFIX}: secret {arn} has no string value")
        values[name] = value
    return values
