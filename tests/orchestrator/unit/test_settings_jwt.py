"""The JWT rules: only an explicit local or test stage runs on the published development secret; every other
stage refuses to start without a secret of at least 32 bytes (the error names JWT_SECRET); tokens that
would live longer than the maximum lifetime are refused."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from chalicelib.api.auth import AuthError, HS256Verifier, issue_token
from chalicelib.settings import LOCAL_ONLY_JWT_SECRET, Settings

GOOD_SECRET = "a-secret-of-thirty-two-bytes-or-more-0123456789"


def settings(**values: str) -> Settings:
    """Settings from these values only (the process's JWT_SECRET and STAGE are not read)."""
    env = {"jwt_secret": "", "stage": "", **values}
    return Settings(**env)  # type: ignore[arg-type]


@pytest.mark.parametrize("stage", ["local", "test"])
def test_a_development_stage_may_run_on_the_development_secret(stage: str) -> None:
    assert settings(stage=stage).jwt_secret == LOCAL_ONLY_JWT_SECRET


@pytest.mark.parametrize("stage", ["dev", "prod", "staging", "Prod", "production", "dev ", " local", "LOCAL", ""])
def test_every_other_stage_refuses_every_token_without_a_secret_naming_the_variable(stage: str) -> None:
    from chalicelib.api.auth import AuthError, get_verifier

    # WHEN the settings are read on a stage that is not exactly local or test, without JWT_SECRET
    configured = settings(stage=stage)
    # THEN the functions that serve no API start (they verify no token), never on the published secret
    assert configured.jwt_secret == ""
    # AND the API refuses every token, saying JWT_SECRET is required (503: the service is misconfigured)
    with pytest.raises(AuthError, match="JWT_SECRET is required on stage") as refused:
        get_verifier(configured)
    assert refused.value.status == 503


@pytest.mark.parametrize("stage", ["local", "prod", "staging"])
@pytest.mark.parametrize("secret", ["x", "short-secret", "a" * 31])
def test_a_secret_shorter_than_32_bytes_is_refused_on_every_stage(stage: str, secret: str) -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET: must be at least 32 bytes"):
        settings(stage=stage, jwt_secret=secret)


def test_the_published_development_secret_is_refused_outside_development_stages() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET: the published development secret"):
        settings(stage="prod", jwt_secret=LOCAL_ONLY_JWT_SECRET)


def test_a_long_enough_secret_is_used_on_any_stage() -> None:
    assert settings(stage="staging", jwt_secret=GOOD_SECRET).jwt_secret == GOOD_SECRET


def test_another_verifier_needs_no_jwt_secret() -> None:
    assert settings(stage="prod", auth_verifier="some.module:factory").jwt_secret == ""


def test_a_token_whose_expiry_is_far_in_the_future_is_refused() -> None:
    # GIVEN a verifier with a 24 h maximum lifetime
    verifier = HS256Verifier(GOOD_SECRET, max_lifetime=24 * 3600)
    conf = settings(stage="test", jwt_secret=GOOD_SECRET)
    # WHEN a token valid for ten years is presented
    forever = issue_token(subject="ops", role="platform_admin", ttl_seconds=10 * 365 * 86400, settings=conf)
    # THEN it is refused with a message saying why
    with pytest.raises(AuthError, match="token lifetime exceeds the maximum of 24 h"):
        verifier.verify(forever)
    # AND a token with a far expiry and no iat is refused too
    import jwt

    no_iat = jwt.encode({"sub": "ops", "role": "platform_admin", "exp": int(time.time()) + 400 * 86400}, GOOD_SECRET)
    with pytest.raises(AuthError, match="token lifetime exceeds"):
        verifier.verify(no_iat)
    # AND a 12 h token passes
    assert verifier.verify(issue_token(subject="ops", role="platform_admin", settings=conf)).is_admin
