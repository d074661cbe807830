"""Reading the audit log: the entries about a jurisdiction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import or_
from sqlalchemy import select

from app.accounts.models import User
from app.audit.models import AuditEntry
from app.core import clock
from app.extensions import db
from app.geo.models import Region
from app.scoping import Scope


def entries(
    scope: Scope,
    limit: int,
    action: str | None = None,
    outcome: str | None = None,
    before_id: int | None = None,
    actor: str | None = None,
    object_id: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[AuditEntry]:
    """Newest entries about a subtree (by region, or by an actor of the subtree), newest first.

    `action` matches a whole action or, ending in ".", every action under it ("cases."); `since`
    and `until` are days in Asia/Shanghai, both included.
    """
    in_scope_users = select(User.id).join(User.region).where(scope.clause(Region.code))
    stmt = (
        select(AuditEntry)
        .where(or_(scope.clause(AuditEntry.region_code), AuditEntry.actor_id.in_(in_scope_users)))
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    if action:
        stmt = stmt.where(
            AuditEntry.action.startswith(action, autoescape=True)
            if action.endswith(".")
            else AuditEntry.action == action
        )
    if outcome:
        stmt = stmt.where(AuditEntry.outcome == outcome)
    if before_id:
        stmt = stmt.where(AuditEntry.id < before_id)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if object_id:
        stmt = stmt.where(
            or_(AuditEntry.object_id == object_id, AuditEntry.detail["case"].astext == object_id)
        )
    if since:
        stmt = stmt.where(AuditEntry.at >= clock.start_of(since))
    if until:
        stmt = stmt.where(AuditEntry.at < clock.start_of(until + dt.timedelta(days=1)))
    return list(db.session.scalars(stmt))
