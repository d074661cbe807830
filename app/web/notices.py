"""Written notices' pages: the admins' template editor (with a preview) and a case's notice PDF.

The editor calls the same services as PUT /api/v1/notice-templates/<kind>: a stale version is
409, a template that does not compile or render is 422 naming the line, and the form comes back
as typed with the message beside the body. The PDF route is the case page's link.
"""

from __future__ import annotations

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from app.cases import queries as case_queries
from app.core.errors import DomainError
from app.documents import kinds
from app.documents import render
from app.documents import schemas
from app.documents import services
from app.policy import requires
from app.web import forms
from app.web.forms import NO_FAILURE
from app.web.forms import Failure

bp = Blueprint("notice_pages", __name__)


def field_names() -> dict[str, str]:
    """Display names of the template form's fields."""
    return {"title": _("标题"), "body": _("正文模板")}


@bp.route("/admin/notice-templates")
@requires("notices.manage")
def templates():
    """The five notice templates, with when each notice applies."""
    return render_template(
        "admin/notice_templates.html", templates=services.templates(), kinds=kinds.KINDS
    )


def render_edit(kind: str, status: int = 200, failed: Failure = NO_FAILURE, typed=None):
    """One template's form, and a preview (of what was typed, if given) with sample data."""
    row = services.template(kind)
    title, body = (typed or {}).get("title", row.title), (typed or {}).get("body", row.body)
    try:
        preview, preview_error = services.preview(body), None
    except DomainError as exc:
        preview, preview_error = None, exc.message
    page = render_template(
        "admin/notice_template.html",
        template=row,
        spec=kinds.KINDS[kind],
        variables=sorted(render.SAMPLE),
        preview=preview,
        preview_title=title,
        preview_error=preview_error,
        failed=failed,
    )
    return page, status


@bp.route("/admin/notice-templates/<kind>")
@requires("notices.manage")
def edit(kind: str):
    """Edit one template; the preview renders it with made-up data."""
    return render_edit(kind)


@bp.route("/admin/notice-templates/<kind>", methods=["POST"])
@requires("notices.manage")
def update(kind: str):
    """Save the template (with the version the page showed), or only preview what was typed."""
    row = services.template(kind)
    typed = {"title": request.form.get("title", "").strip(), "body": request.form.get("body", "")}
    if request.form.get("preview"):
        return render_edit(kind, typed=typed)
    lead = lambda reason: _("未能保存：%(reason)s", reason=reason)  # noqa: E731
    try:
        data = schemas.NoticeTemplateUpdate().load(typed)
        services.check_version(row, forms.shown_version(request.form))
        services.update_template(row, data, current_user)
    except ValidationError as exc:
        failed = Failure.of("edit", lead, field_names(), errors=exc.messages)
        return render_edit(kind, 422, failed, typed)
    except DomainError as exc:
        stale = "version" in (exc.errors or {})
        errors = (exc.errors or {}).get("json") or {}
        failed = Failure.of(
            "edit", lead, field_names(), errors=errors, message=exc.message, stale=stale
        )
        return render_edit(kind, exc.status, failed, None if stale else typed)
    flash(_("已保存文书模板“%(title)s”", title=row.title), "success")
    return redirect(url_for("notice_pages.edit", kind=kind))


@bp.route("/cases/<number>/notices/<kind>.pdf")
@requires("cases.reveal")
def case_notice(number: str, kind: str):
    """A notice of the case as PDF (parties named in full; audited)."""
    case = case_queries.visible_case(number)
    document = services.notice_pdf(case, kind, current_user)
    return render.pdf_response(document, case.number, kind, services.template(kind).title)
