"""The API's enumerations are the tables' CHECK constraint values (one meaning, two spellings)."""

from __future__ import annotations

from typing import get_args

from chalicelib.api import schemas
from chalicelib.domain.constants import EXECUTION_STATUSES, LOG_LEVELS, WORKFLOW_TYPES


def test_api_enumerations_match_the_table_constraints() -> None:
    assert set(get_args(schemas.ExecutionStatus)) == set(EXECUTION_STATUSES)
    assert set(get_args(schemas.LogLevel)) == set(LOG_LEVELS)
    assert set(get_args(schemas.WorkflowType)) == set(WORKFLOW_TYPES)
