"""研判 (analysis): the warnings in the caller's scope with their explanations, on a map, and
the 签收/处置 forms; and the admin's page of warning rules (thresholds)."""

from __future__ import annotations

import json

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from app.core.actions import run
from app.core.errors import BadRequest
from app.core.errors import DomainError
from app.core.errors import NotFound
from app.extensions import db
from app.policy import allows
from app.policy import requires
from app.scoping import current_scope
from app.warnings import actions
from app.warnings import queries
from app.warnings import schemas
from app.warnings.models import KINDS
from app.warnings.models import STATES
from app.web import forms
from app.web import labels
from app.web.layout import map_parts
from app.web.layout import tiles
from app.web.official import region_centre
from maps.pages import warnings_map

bp = Blueprint("analysis", __name__)


def field_names() -> dict[str, str]:
    """Display names of the action forms' fields."""
    return {"note": _("处置说明"), "version": _("版本")}


def list_filters() -> dict:
    """kind / state / after from the query string, checked (bad values answer 400)."""
    raw = {k: v for k, v in request.args.items() if k in ("kind", "state", "after") and v}
    try:
        return schemas.WarningQuery().load(raw)
    except ValidationError as exc:
        raise BadRequest(_("筛选条件有误"), errors={"query": exc.messages}) from None


def render_analysis(status: int = 200, failed: dict | None = None):
    """The 研判 page: the list (newest first), the map, and each warning's forms."""
    filters = list_filters()
    page = queries.list_page(filters, current_scope())
    region = current_user.region
    centre, bounds = region_centre(region)
    zoom = {"province": 7, "prefecture": 8, "county": 10, "town": 12, "village": 14}[region.level]
    m = warnings_map(tiles(), _("研判预警地图"), centre=centre, zoom=zoom)
    action = (failed or {}).get("action") or ""
    title = labels.label("warning_action", action.split("-", 1)[-1]) if action else ""
    return (
        render_template(
            "analysis/analysis.html",
            warnings=page["items"],
            next_cursor=page["next"],
            filters=filters,
            kinds=KINDS,
            states=STATES,
            map=map_parts(m),
            bounds=bounds,
            can_act=allows(current_user.role, "warnings.act"),
            allowed=actions.allowed,
            failed=forms.action_failure(failed or {}, title, field_names()),
        ),
        status,
    )


@bp.route("/analysis")
@requires("warnings.read")
def analysis():
    """研判: warnings with their explanations, the map layer, 签收 and 处置."""
    return render_analysis()


@bp.route("/analysis/<int:warning_id>/<action>", methods=["POST"])
@requires("warnings.act")
def act(warning_id: int, action: str):
    """签收 or 处置 one warning from its form, with the version the page showed."""
    warning = queries.visible(warning_id, current_user)
    if action not in actions.ACTIONS:
        raise NotFound(_("未知操作"))
    typed = {"action": f"w{warning_id}-{action}", "values": request.form.to_dict(flat=False)}
    version = forms.shown_version(request.form)
    body = {"note": request.form["note"].strip()} if request.form.get("note", "").strip() else {}
    try:
        actions.perform(action, warning, current_user, body, version)
    except DomainError as exc:
        db.session.expire(warning)
        if exc.status == 409 and "version" in exc.errors:
            return render_analysis(409, {**typed, "stale": exc.errors["version"]})
        return render_analysis(exc.status, forms.refused_form(exc, typed))
    flash(_("预警已签收") if action == "acknowledge" else _("预警已处置"), "success")
    return redirect(url_for("analysis.analysis"))


# --- the admin's rules page ----------------------------------------------------------------------


def render_rules(status: int = 200, failed: dict | None = None):
    """The rules with their parameters (as JSON to edit) and switches."""
    action = (failed or {}).get("action") or ""
    return (
        render_template(
            "analysis/rules.html",
            rules=queries.rule_rows(),
            json=json,
            failed=forms.action_failure(
                failed or {}, _("修改预警规则"), {"params": _("参数"), "enabled": _("启用")}
            ),
            failed_kind=action,
        ),
        status,
    )


@bp.route("/admin/warning-rules")
@requires("warnings.manage")
def warning_rules():
    """预警规则: each kind's switch and thresholds (docs/warnings.md)."""
    return render_rules()


@bp.route("/admin/warning-rules/<kind>", methods=["POST"])
@requires("warnings.manage")
def save_rule(kind: str):
    """Save one rule's form (as PUT /api/v1/warning-rules/<kind> does)."""
    rule = queries.rule(kind if kind in KINDS else "")
    typed = {"action": kind, "values": request.form.to_dict(flat=False)}
    version = forms.shown_version(request.form)
    try:
        params = json.loads(request.form.get("params") or "{}")
    except ValueError:
        params = None
    if not isinstance(params, dict):
        exc = DomainError(422, _("参数应为 JSON 对象"), {"json": {"params": [_("应为 JSON 对象")]}})
        return render_rules(422, forms.refused_form(exc, typed))
    body = {"params": params, "enabled": request.form.get("enabled") == "on"}
    try:
        run(
            actions.rule_step(rule, current_user, version),
            rule,
            body,
            version=version,
            stale_message=str(actions.RULE_STALE),
        )
    except DomainError as exc:
        db.session.expire(rule)
        if exc.status == 409 and "version" in exc.errors:
            return render_rules(409, {**typed, "stale": exc.errors["version"]})
        problems = (exc.errors.get("json") or {}).get("params")
        if isinstance(problems, dict):  # each parameter's message beside the one text field
            exc.errors = {
                "json": {"params": [f"{key}：{'；'.join(m)}" for key, m in problems.items()]}
            }
        return render_rules(exc.status, forms.refused_form(exc, typed))
    flash(_("已保存预警规则：%(name)s", name=labels.label("warning_kind", kind)), "success")
    return redirect(url_for("analysis.warning_rules"))
