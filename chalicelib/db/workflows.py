"""Workflow rows: look-ups and the seeding of the built-in workflows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chalicelib.db.models import Workflow
from chalicelib.domain.workflows import default_workflows
from chalicelib.settings import Settings, get_settings


def get_workflow(session: Session, name: str) -> Workflow | None:
    return session.scalar(select(Workflow).where(Workflow.name == name))


def all_workflows(session: Session) -> list[Workflow]:
    return list(session.scalars(select(Workflow).order_by(Workflow.name)))


def enabled_workflows(session: Session) -> list[Workflow]:
    return list(session.scalars(select(Workflow).where(Workflow.enabled.is_(True)).order_by(Workflow.name)))


def ensure_default_workflows(session: Session, settings: Settings | None = None) -> list[str]:
    """Insert the built-in workflows that are missing; never overwrite an operator's changes."""
    created = []
    for spec in default_workflows(settings or get_settings()):
        if get_workflow(session, spec["name"]) is None:
            session.add(Workflow(**spec))
            created.append(spec["name"])
    session.flush()
    return created
