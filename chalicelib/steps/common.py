"""What every step handler shares: input parsing with errors that name the field, and Catch causes."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from chalicelib.errors import InvalidInputError

ModelT = TypeVar("ModelT", bound=BaseModel)


def parse(model: type[ModelT], event: Any) -> ModelT:
    """Validate a step's input; the error names every offending field."""
    if not isinstance(event, dict):
        raise InvalidInputError(f"{model.__name__}: expected a JSON object, got {type(event).__name__}")
    try:
        return model.model_validate(event)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise InvalidInputError(f"{model.__name__}: invalid input: {problems}") from None


def parse_cause(cause: str | None) -> tuple[str | None, str]:
    """A Catch's Cause is the Lambda error envelope as JSON text (or plain text from the service)."""
    if not cause:
        return None, "no cause given"
    try:
        envelope = json.loads(cause)
    except ValueError:
        return None, cause[:2000]
    if isinstance(envelope, dict):
        return envelope.get("errorType"), str(envelope.get("errorMessage", cause))[:2000]
    return None, cause[:2000]
