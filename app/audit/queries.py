"""Reading the audit log: the entries about a jurisdiction."""

from __future__ import annotations

from sqlalchemy import or_
from sqlalchemy import select

from app.accounts.models import User
from app.audit.models import AuditEntry
from app.extensions import db
from app.geo.models import Region
from app.scoping import Scope


def entries(
    scope: Scope,
    limit: int,
    action: str | None = None,
    outcome: str | None = None,
    before_id: int | None = None,
) -> list[AuditEntry]:
    """Newest entries about a subtree (by region, or by an actor of the subtree), newest first."""
    in_scope_users = select(User.id).join(User.region).where(scope.clause(Region.code))
    stmt = (
        select(AuditEntry)
        .where(or_(scope.clause(AuditEntry.region_code), AuditEntry.actor_id.in_(in_scope_users)))
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if outcome:
        stmt = stmt.where(AuditEntry.outcome == outcome)
    if before_id:
        stmt = stmt.where(AuditEntry.id < before_id)
    return list(db.session.scalars(stmt))
