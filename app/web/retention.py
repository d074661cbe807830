"""The admin's retention page (docs/privacy.md): each kind's policy, editable, and the plan."""

from __future__ import annotations

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from marshmallow import ValidationError

from app.core.errors import DomainError
from app.policy import requires
from app.privacy import retention
from app.privacy import schemas
from app.web import forms

bp = Blueprint("retention_pages", __name__)

KIND_LABELS = {
    "dispute": _l("矛盾纠纷"),
    "petition": _l("信访"),
    "incident": _l("一般事件"),
    "risk_point": _l("风险点"),
    "visit": _l("走访记录"),
    "self_report": _l("随手拍"),
    "audit_log": _l("审计日志"),
}


def render_policies(failed=forms.NO_FAILURE, status: int = 200):
    return (
        render_template(
            "admin/retention.html",
            policies=retention.policies(),
            plan=retention.plan(),
            kinds=KIND_LABELS,
            failed=failed,
        ),
        status,
    )


@bp.route("/admin/retention")
@requires("retention.manage")
def policies():
    """保存期限: each kind's months, and what a run would de-identify now."""
    return render_policies()


@bp.route("/admin/retention/<kind>", methods=["POST"])
@requires("retention.manage")
def update_policy(kind: str):
    """Change one kind's months (as PATCH /api/v1/retention-policies/<kind>)."""
    row = retention.policy_of(kind)
    try:
        try:
            data = schemas.PolicyIn().load(
                {"months": forms.form_int(request.form.get("months", ""))}
            )
        except ValidationError as exc:
            raise DomainError(422, errors={"json": exc.messages}) from None
        retention.update_policy(row, data, forms.shown_version(request.form), current_user)
    except DomainError as exc:
        failed = forms.Failure.of(
            f"policy-{kind}",
            lambda reason: _("未能保存保存期限：%(reason)s", reason=reason),
            {"months": _("保存月数")},
            errors=exc.errors.get("json"),
            message=exc.message,
            stale=exc.status == 409,
        )
        return render_policies(failed, exc.status)
    flash(_("保存期限已保存"), "success")
    return redirect(url_for("retention_pages.policies"))
