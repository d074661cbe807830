"""Helpers for the warning tests: cases reported at a chosen time, the scan the job would run."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy import text

from app.cases import services as case_services
from app.cases.models import Case
from app.core import clock
from app.extensions import db
from app.warnings import services
from app.warnings.models import EarlyWarning
from tests.cases.factories import case_body


def old_case(user, days_ago: int, **overrides) -> int:
    """A case reported through the service, then moved `days_ago` days into the past."""
    case = case_services.report(case_body(**overrides), user)
    db.session.execute(
        text("UPDATE cases SET reported_at = :at WHERE id = :id"),
        {"at": clock.now() - dt.timedelta(days=days_ago), "id": case.id},
    )
    db.session.commit()
    return case.id


def case_id(number: str) -> int:
    """A case's id by its number."""
    return db.session.scalar(select(Case.id).where(Case.number == number))


def scan(number: str):
    """What the job deferred by the report runs (synchronously), committed."""
    outcome = services.scan_case(case_id(number))
    db.session.commit()
    return outcome


def warnings_of(kind: str) -> list[EarlyWarning]:
    """The warnings of a kind, oldest first."""
    return list(
        db.session.scalars(
            select(EarlyWarning).where(EarlyWarning.kind == kind).order_by(EarlyWarning.id)
        )
    )


def make_warning(user, point: dict) -> int:
    """A group warning about a fresh case of `user`'s at `point` (for the permission matrix)."""
    case = case_services.report(case_body(group_visit=True, parties=[], **point), user)
    db.session.flush()
    outcome = services.Outcome()
    services.group(case, services.params("group"), outcome)
    db.session.commit()
    return outcome.raised[0]
