"""Secrets at cold start and the JWT secret's place: a function reads the secrets its environment names
(ARNs only), before the environment; a function that serves no API starts on dev/prod without JWT_SECRET,
and the API refuses tokens until it has one."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib import settings as settings_module
from chalicelib.adapters import secrets
from chalicelib.api.auth import AuthError, get_verifier, issue_token
from chalicelib.settings import Settings, get_settings

ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"


class Provider:
    """Powertools' SecretsProvider stand-in (an edge this project does not own)."""

    def __init__(self, values: dict[str, Any] | None = None, error: Exception | None = None) -> None:
        self.values, self.error, self.asked = values or {}, error, []

    def get(self, name: str, max_age: int) -> Any:
        self.asked.append((name, max_age))
        if self.error:
            raise self.error
        return self.values[name]


def test_an_environment_naming_no_secret_reads_none() -> None:
    # GIVEN an environment without *_SECRET_ARN / WHEN resolved / THEN nothing is asked of Secrets Manager
    provider = Provider(error=AssertionError("must not be called"))
    assert secrets.resolve({"DATABASE_URL": "sqlite://"}, provider=provider) == {}
    assert provider.asked == []


def test_each_named_secret_is_read_once_with_its_cache_age() -> None:
    # GIVEN a function whose environment names its database and Redis secrets
    provider = Provider({ARN: "postgresql+pg8000://db/x", ARN + "2": "redis://r:6379/0"})
    env = {"DATABASE_URL_SECRET_ARN": ARN, "REDIS_URL_SECRET_ARN": ARN + "2", "OTHER_SECRET_ARN": "ignored"}
    # WHEN resolved / THEN each value comes under its setting's name, cached for SECRET_MAX_AGE_SECONDS
    assert secrets.resolve(env, provider=provider) == {
        "DATABASE_URL": "postgresql+pg8000://db/x",
        "REDIS_URL": "redis://r:6379/0",
    }
    assert provider.asked == [(ARN, secrets.SECRET_MAX_AGE_SECONDS), (ARN + "2", secrets.SECRET_MAX_AGE_SECONDS)]


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        (
            Provider(error=RuntimeError("AccessDeniedException")),
            "DATABASE_URL_SECRET_ARN: cannot read secret .*AccessDenied",
        ),
        (Provider({ARN: ""}), "DATABASE_URL_SECRET_ARN: secret .* has no string value"),
    ],
    ids=["refused", "empty"],
)
def test_an_unreadable_secret_is_reported_naming_the_variable_and_the_secret(provider: Provider, expected: str) -> None:
    # GIVEN a secret the function cannot read / WHEN resolved / THEN the error names the variable and the ARN
    with pytest.raises(secrets.SecretUnavailableError, match=expected):
        secrets.resolve({"DATABASE_URL_SECRET_ARN": ARN}, provider=provider)


def test_settings_read_their_sources_before_the_environment(monkeypatch: pytest.MonkeyPatch, set_env: Any) -> None:
    # GIVEN a source (as app.py adds the secrets) and an environment with another value
    set_env("DATABASE_URL", "sqlite:///from-environment.db")
    monkeypatch.setattr(settings_module, "_SOURCES", [lambda: {"DATABASE_URL": "sqlite:///from-secret.db"}])
    get_settings.cache_clear()
    try:
        # WHEN the settings are read / THEN the source's value wins
        assert get_settings().database_url == "sqlite:///from-secret.db"
    finally:
        get_settings.cache_clear()


def test_a_function_that_serves_no_api_starts_on_prod_without_a_jwt_secret() -> None:
    # GIVEN prod settings without JWT_SECRET (a step function's environment)
    settings = Settings(stage="prod", jwt_secret="")
    # THEN they load (the step runs), and no local-only secret is put in its place
    assert settings.jwt_secret == ""
    # AND the API's verifier refuses every token with 503 until the secret is there
    with pytest.raises(AuthError) as refused:
        get_verifier(settings)
    assert (refused.value.status, refused.value.code) == (503, "unavailable")
    # AND no token can be issued with it
    with pytest.raises(ValueError, match="JWT_SECRET: required on stage 'prod'"):
        issue_token(subject="x", role="platform_admin", settings=settings)


def test_local_stages_keep_their_local_only_secret() -> None:
    # GIVEN a local stage without JWT_SECRET / THEN the local-only constant verifies its tokens
    settings = Settings(stage="local", jwt_secret="")
    token = issue_token(subject="dev", role="platform_admin", settings=settings)
    assert get_verifier(settings).verify(token).subject == "dev"
