"""Audit log API: the entries about the caller's jurisdiction."""

from __future__ import annotations

from app.audit import queries
from app.audit import schemas
from app.extensions import Blueprint
from app.policy import requires
from app.scoping import current_scope

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="审计日志 (audit)")


@blp.route("/audit")
@requires("audit.read")
@blp.arguments(schemas.AuditQuery, location="query", as_kwargs=True)
@blp.response(200, schemas.AuditEntrySchema(many=True))
def list_audit(limit: int, **filters):
    """Newest audit entries about the caller's subtree (by region or by an in-scope actor),
    filtered by action (or a family: `cases.`), outcome, actor, object and days."""
    return queries.entries(current_scope(), limit, **filters)
