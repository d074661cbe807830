"""Grid workers' pages, made for a phone: 我的网格 (map and to-do list), 上报, 排查."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint
from flask import render_template
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy import text

from app.cases import clocks
from app.cases import schemas
from app.cases import services
from app.cases.models import Case
from app.extensions import db
from app.policy import allows
from app.policy import requires
from app.scoping import current_scope
from app.scoping import scope_for
from app.web import labels
from app.web import map_parts
from app.web import tiles
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
    from app.risks import services as risks
    from app.risks.models import RiskPoint

    stmt = risks.visible(select(RiskPoint), current_scope(), current_user.role).where(
        RiskPoint.status == "active",
        RiskPoint.next_due <= clocks.today() + dt.timedelta(days=7),
    )
    rows = db.session.scalars(stmt.order_by(RiskPoint.next_due, RiskPoint.id).limit(limit)).all()
    return risks.decorate(rows)


@bp.route("/field")
@requires("cases.report")
def my_grid():
    """我的网格: my cells on a map with open cases and risk points, and my to-do list."""
    scope = scope_for(current_user)
    follow_ups = db.session.scalars(
        services.visible(select(Case), scope, current_user.role)
        .where(Case.state == "resolved")
        .order_by(Case.resolved_at)
        .limit(50)
    ).all()
    mine_open = db.session.scalars(
        services.visible(select(Case), scope, current_user.role)
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
        today=clocks.today(),
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
    )


@bp.route("/inspections")
@requires("risks.inspect")
def inspections():
    """排查: the risk points due for inspection, each with an inspection form."""
    return render_template(
        "field/inspections.html",
        points=risk_points_due(200),
        today=clocks.today(),
        categories={
            kind: [(c, labels.label("category", c)) for c in cs]
            for kind, cs in schemas.CATEGORIES.items()
        },
    )


@bp.route("/risk-points/<ref>")
@requires("risks.read")
def risk_point(ref: str):
    """A risk point: level, control measures, inspections with photos, history, linked cases."""
    from app.risks.api import detail
    from app.risks.api import visible_point
    from app.risks.models import RiskPoint

    point_id = (
        int(ref)
        if ref.isdigit()
        else db.session.scalar(select(RiskPoint.id).where(RiskPoint.code == ref))
    )
    point = detail(visible_point(point_id or 0))
    m = case_map(tiles(), (point.lat, point.lon), _("风险点位置"))
    return render_template(
        "field/risk_point.html",
        p=point,
        map=map_parts(m),
        today=clocks.today(),
        can_inspect=allows(current_user.role, "risks.inspect") and point.status == "active",
        categories={
            kind: [(c, labels.label("category", c)) for c in cs]
            for kind, cs in schemas.CATEGORIES.items()
        },
    )
