"""Grid workers' pages, made for a phone: 我的网格 (map and to-do list), 上报, 排查, and the risk
point page with its actions (调整等级, 申请消除, 审批消除)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy import text

from app.cases import queries as case_queries
from app.cases import schemas
from app.cases.models import Case
from app.core import clock
from app.core.errors import DomainError
from app.extensions import db
from app.policy import allows
from app.policy import requires
from app.risks import actions as risk_actions
from app.risks import queries as risks
from app.risks import services as risk_services
from app.risks.models import LEVELS
from app.risks.models import RiskEvent
from app.risks.models import RiskPoint
from app.scoping import current_scope
from app.scoping import scope_for
from app.web import cameras
from app.web import forms
from app.web import labels
from app.web.layout import map_parts
from app.web.layout import tiles
from maps.base import DEMO_CENTRE
from maps.pages import case_map
from maps.pages import grid_map
from maps.pages import report_map

bp = Blueprint("field", __name__)


def home_centre() -> tuple[float, float]:
    """(lat, lon) to open maps at: the user's grid cells, else their region, else the demo."""
    if current_user.grid_cells:
        ids = [c.id for c in current_user.grid_cells]
        sql = "SELECT ST_Y(c), ST_X(c) FROM (SELECT ST_Centroid(ST_Collect(geom)) c FROM grid_cells WHERE id = ANY(:ids)) s"  # noqa: E501
        row = db.session.execute(text(sql), {"ids": ids}).first()
    else:
        sql = "SELECT ST_Y(ST_PointOnSurface(boundary)), ST_X(ST_PointOnSurface(boundary)) FROM regions WHERE id = :id"  # noqa: E501
        row = db.session.execute(text(sql), {"id": current_user.region_id}).first()
    return (row[0], row[1]) if row and row[0] is not None else DEMO_CENTRE


def risk_points_due(limit: int = 50) -> list:
    """Active risk points in scope whose inspection is due within a week, soonest first."""
    if not allows(current_user.role, "risks.read"):
        return []
    stmt = risks.visible(select(RiskPoint), current_scope()).where(
        RiskPoint.status == "active",
        RiskPoint.next_due <= clock.today() + dt.timedelta(days=7),
    )
    rows = db.session.scalars(stmt.order_by(RiskPoint.next_due, RiskPoint.id).limit(limit)).all()
    return risks.decorate(rows)


@bp.route("/field")
@requires("cases.report")
def my_grid():
    """我的网格: my cells on a map with open cases and risk points, and my to-do list."""
    scope = scope_for(current_user)
    follow_ups = db.session.scalars(
        case_queries.scoped(select(Case), scope)
        .where(Case.state == "resolved")
        .order_by(Case.resolved_at)
        .limit(50)
    ).all()
    mine_open = db.session.scalars(
        case_queries.scoped(select(Case), scope)
        .where(Case.state.in_(["reported", "accepted", "in_progress"]))
        .order_by(Case.next_due.asc().nulls_last(), Case.id)
        .limit(50)
    ).all()
    m = grid_map(
        tiles(),
        home_centre(),
        _("我的网格地图"),
        case_title=_("事件"),
        case_names={
            "open": _("在办"),
            "yellow": str(labels.WARNINGS["yellow"]),
            "red": str(labels.WARNINGS["red"]),
        },
        risk_title=_("风险点"),
        risk_names={k: str(v) for k, v in labels.RISK_LEVELS.items()},
    )
    return render_template(
        "field/my_grid.html",
        map=map_parts(m),
        cells=current_user.grid_cells,
        follow_ups=follow_ups,
        open_cases=mine_open,
        inspections=risk_points_due(),
        today=clock.today(),
        can_risks=allows(current_user.role, "risks.read"),
    )


@bp.route("/report")
@requires("cases.report")
def report():
    """上报: place the point on the map or by location, describe it, check for duplicates."""
    m = report_map(tiles(), home_centre(), _("点击地图确定事件位置"))
    return render_template(
        "field/report.html",
        map=map_parts(m),
        categories={
            kind: [(c, labels.label("category", c)) for c in cs]
            for kind, cs in schemas.CATEGORIES.items()
        },
        cells=[c.code for c in current_user.grid_cells],
        form_messages=forms.report_messages(),
        check_rules=forms.check_rules(),
    )


@bp.route("/inspections")
@requires("risks.inspect")
def inspections():
    """排查: the risk points due for inspection, each with an inspection form."""
    return render_template(
        "field/inspections.html",
        points=risk_points_due(200),
        today=clock.today(),
        form_messages=forms.inspection_messages(),
        categories={
            kind: [(c, labels.label("category", c)) for c in cs]
            for kind, cs in schemas.CATEGORIES.items()
        },
    )


def point_by_ref(ref: str) -> RiskPoint:
    """The risk point with this id or code, if the user may see it; 404 otherwise (as the API)."""
    return risks.visible_point(risks.point_id_of(ref), current_user)


# The actions offered as short forms, in the table's order (app/risks/actions.py).
RISK_ACTIONS = {name: rule for name, rule in risk_actions.ACTIONS.items() if rule.form}


def render_point(point, status: int = 200, failed: dict | None = None, exact: dict | None = None):
    """The risk point page; `failed` re-opens an action's form with what was typed; `exact` is
    a key-population point's revealed place (otherwise its grid cell's point is shown)."""
    point = risk_actions.detail(point, current_user)
    if exact:
        point.lon, point.lat, point.generalized = exact["lon"], exact["lat"], False
    m = case_map(tiles(), (point.lat, point.lon), _("风险点位置"))
    return (
        render_template(
            "field/risk_point.html",
            p=point,
            can_locate=point.generalized and allows(current_user, "risks.locate"),
            revealed=bool(exact),
            map=map_parts(m),
            today=clock.today(),
            version=point.version,
            offered=[a for a in RISK_ACTIONS if a in point.allowed_actions],
            titles={a: rule.form_title(point) for a, rule in RISK_ACTIONS.items()},
            levels=LEVELS,
            failed=forms.action_failure(
                failed, (failed or {}).get("title", ""), risk_field_names()
            ),
            can_inspect="inspect" in point.allowed_actions,
            # the point as shown (a key-population point: its cell's inner point)
            nearby_cameras=cameras.nearby(point.lon, point.lat),
            form_messages=forms.inspection_messages(),
            categories={
                kind: [(c, labels.label("category", c)) for c in cs]
                for kind, cs in schemas.CATEGORIES.items()
            },
        ),
        status,
    )


@bp.route("/risk-points/<ref>")
@requires("risks.read")
def risk_point(ref: str):
    """A risk point: level, control measures, inspections with photos, history, linked cases,
    and a short form for each action the user may take on it now."""
    return render_point(point_by_ref(ref))


@bp.route("/risk-points/<ref>/location", methods=["POST"])
@requires("risks.locate")
def reveal_location(ref: str):
    """查看确切位置: a key-population point's exact place, with the reason (audited)."""
    point = point_by_ref(ref)
    reason = (request.form.get("reason") or "").strip()
    if not 2 <= len(reason) <= 200:
        message = _("请填写查看确切位置的理由（2–200 字）")
        failed = {
            "action": "location",
            "title": _("查看确切位置"),
            "message": message,
            "json": {"reason": [message]},
            "values": request.form.to_dict(),
        }
        return render_point(point, 422, failed)
    return render_point(point, exact=risk_services.exact_location(point, current_user, reason))


# --- actions on a risk point (the API's /risk-points/<id>/actions/..., as forms) ----------------


def risk_field_names() -> dict[str, str]:
    """Display names of the action forms' fields, for validation messages."""
    return {"level": _("新等级"), "reason": _("理由"), "approved": _("审批意见")}


def take_risk_action(ref: str, action: str):
    """Run one action from its form with the version the page showed, through the same runner
    as the API (app.risks.actions.perform); a stale version is 409 and nothing is saved."""
    point = point_by_ref(ref)
    point_id, code = point.id, point.code
    form = request.form
    body = {k: form[k].strip() for k in ("level", "reason") if form.get(k, "").strip()}
    if form.get("approved") in ("true", "false"):
        body["approved"] = form["approved"] == "true"
    version = forms.shown_version(form)
    name = RISK_ACTIONS[action].form_title(point)
    typed = {"action": action, "values": form.to_dict(), "title": name}
    try:
        risk_actions.perform(action, point, current_user, body, version)
    except DomainError as exc:
        if "version" in exc.errors:
            flash(
                _("%(message)s：下面显示的是最新情况，请核对后再操作。", message=exc.message),
                "error",
            )
            return render_point(point, exc.status, {"stale": True})
        failed = forms.refused_form(exc, typed)
        return render_point(point, exc.status, failed)
    # What happened, by the history entry just written (审批 may approve, refuse or clear).
    done = db.session.scalar(
        select(RiskEvent.action)
        .where(RiskEvent.risk_point_id == point_id)
        .order_by(RiskEvent.id.desc())
        .limit(1)
    )
    flash(
        _(
            "已完成“%(action)s”：风险点 %(code)s",
            action=labels.label("risk_event", done),
            code=code,
        ),
        "success",
    )
    return redirect(url_for("field.risk_point", ref=code))


@bp.route("/risk-points/<ref>/actions/change_level", methods=["POST"])
@requires(RISK_ACTIONS["change_level"].permission)
def change_level(ref: str):
    """调整等级, with a reason (as POST /api/v1/risk-points/<id>/actions/change_level)."""
    return take_risk_action(ref, "change_level")


@bp.route("/risk-points/<ref>/actions/request_clear", methods=["POST"])
@requires(RISK_ACTIONS["request_clear"].permission)
def request_clear(ref: str):
    """申请消除, with a reason (as POST /api/v1/risk-points/<id>/actions/request_clear)."""
    return take_risk_action(ref, "request_clear")


@bp.route("/risk-points/<ref>/actions/approve_clear", methods=["POST"])
@requires(RISK_ACTIONS["approve_clear"].permission)
def approve_clear(ref: str):
    """An official decides a request to clear, or clears directly (as POST
    /api/v1/risk-points/<id>/actions/approve_clear)."""
    return take_risk_action(ref, "approve_clear")
