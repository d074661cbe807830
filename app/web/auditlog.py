"""审计日志: officials and admins search the audit log of their jurisdiction and export it.

The same query as `GET /api/v1/audit` (app/audit/queries.entries): entries about the caller's
subtree, by region or by an actor of it. Entries never hold personal data (docs/audit.md), so the
CSV needs no reveal; each export is itself audited.
"""

from __future__ import annotations

import json

from flask import Blueprint
from flask import Response
from flask import render_template
from flask import request
from flask_babel import gettext as _
from marshmallow import ValidationError

from app import exports
from app.audit import queries
from app.audit import services as audit
from app.audit.models import OUTCOMES
from app.audit.schemas import AuditQuery
from app.policy import requires
from app.scoping import current_scope

bp = Blueprint("auditlog", __name__, template_folder="../templates")

PAGE = 100
EXPORT_MOST = 10_000
FIELDS = ("action", "outcome", "actor", "object_id", "since", "until")


def parsed() -> tuple[dict, dict]:
    """(filters, field errors) from the query string; empty values are no filter."""
    given = {k: v.strip() for k, v in request.args.items() if k in (*FIELDS, "before_id") and v}
    try:
        return AuditQuery().load({**given, "limit": PAGE}), {}
    except ValidationError as exc:
        return {"limit": PAGE}, exc.messages


@bp.route("/audit")
@requires("audit.read")
def audit_page():
    """The newest entries matching the filters, 100 a page (older ones by `before_id`)."""
    filters, errors = parsed()
    rows = [] if errors else queries.entries(current_scope(), **filters)
    older = rows[-1].id if len(rows) == PAGE else None
    args = {k: request.args.get(k, "") for k in FIELDS}
    return (
        render_template(
            "admin/audit.html",
            rows=rows,
            args=args,
            errors=errors,
            outcomes=OUTCOMES,
            older=older,
            detail=lambda d: json.dumps(d, ensure_ascii=False, sort_keys=True) if d else "",
        ),
        422 if errors else 200,
    )


@bp.route("/audit.csv")
@requires("audit.read")
def audit_csv():
    """The matching entries (at most 10,000, newest first) as CSV; the export is audited."""
    filters, errors = parsed()
    if errors:
        return audit_page()
    filters["limit"] = EXPORT_MOST
    rows = queries.entries(current_scope(), **filters)
    audit.record(
        "audit.export",
        object_type="audit_log",
        detail={"rows": len(rows), **{k: str(v) for k, v in filters.items() if k != "limit"}},
    )
    headers = (
        _("编号"),
        _("时间"),
        _("操作人"),
        _("角色"),
        _("操作"),
        _("对象类型"),
        _("对象"),
        _("区划"),
        _("来源地址"),
        _("结果"),
        _("详情"),
    )
    body = exports.csv_bytes(
        headers,
        [
            (
                r.id,
                r.at,
                r.actor,
                r.role,
                r.action,
                r.object_type,
                r.object_id,
                r.region_code,
                r.client_addr,
                r.outcome,
                json.dumps(r.detail, ensure_ascii=False, sort_keys=True),
            )
            for r in rows
        ],
    )
    response = Response(body, mimetype=exports.CSV_MIMETYPE)
    response.headers["Content-Disposition"] = 'attachment; filename="audit.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
