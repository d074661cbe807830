"""Officials' pages: 风险地图 (the risk map) and 工作台 (measures, lists and ledger exports)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint
from flask import render_template
from flask import request
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy import text

from app.cases import measures
from app.cases import queries
from app.cases import schemas
from app.cases import workflow
from app.core import clock
from app.core.errors import BadRequest
from app.dispatch.measures import department_measures
from app.extensions import db
from app.geo.models import Region
from app.policy import allows
from app.policy import requires
from app.scoping import current_scope
from app.scoping import region_prefix
from app.web import forms
from app.web import labels
from app.web.charts import trend_chart
from app.web.layout import map_parts
from app.web.layout import tiles
from maps.pages import risk_map as build_risk_map

bp = Blueprint("official", __name__)


def region_centre(region: Region) -> tuple[tuple[float, float], list[float]]:
    """(lat, lon) inside a region, and its bounds [minLon, minLat, maxLon, maxLat]."""
    # A region without a boundary (a 市 above the counties, 边界未导入): the extent of the
    # bounded regions below it; none at all: mainland China.
    row = db.session.execute(
        text(
            """
            WITH r AS (
                SELECT coalesce(
                    (SELECT boundary FROM regions WHERE id = :id),
                    (SELECT ST_SetSRID(ST_Extent(boundary)::geometry, 4326) FROM regions
                      WHERE code LIKE :prefix || '%' AND boundary IS NOT NULL)) AS b)
            SELECT ST_Y(ST_PointOnSurface(b)), ST_X(ST_PointOnSurface(b)),
                   ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b)
              FROM r WHERE b IS NOT NULL
            """
        ),
        {"id": region.id, "prefix": region_prefix(region.code, region.level)},
    ).first()
    if row is None:
        return (35.0, 105.0), [73.0, 18.0, 136.0, 54.0]
    return (row[0], row[1]), [row[2], row[3], row[4], row[5]]


def period_filters() -> dict:
    """kind / from / to from the query string, checked (bad values answer 400)."""
    raw = {k: v for k, v in request.args.items() if k in ("kind", "from", "to") and v}
    try:
        return schemas.MetricsQuery().load(raw)
    except ValidationError as exc:
        raise BadRequest(_("筛选条件有误"), errors={"query": exc.messages}) from None


@bp.route("/map")
@requires("cases.read")
def risk_map():
    """风险地图: cells by risk score, points by level, cases clustered or as a heat map."""
    filters = period_filters()
    region = current_user.region
    centre, bounds = region_centre(region)
    zoom = {"province": 7, "prefecture": 8, "county": 10, "town": 12, "village": 14}[region.level]
    m = build_risk_map(
        tiles(),
        _("风险地图"),
        centre=centre,
        zoom=zoom,
        tiles_name=_("底图"),
        score_title=_("网格风险分值"),
        score_range="{low}–{high}",
        risk_title=_("风险点等级"),
        risk_names={k: str(v) for k, v in labels.RISK_LEVELS.items()},
        case_title=_("事件"),
        case_names={
            "open": _("在办"),
            "yellow": str(labels.WARNINGS["yellow"]),
            "red": str(labels.WARNINGS["red"]),
            "settled": _("已办结"),
        },
        cluster_label=_("多个事件（数字为件数）"),
        count_title=_("事件数（按区域汇总）"),
        count_names={"none": _("无预警"), "yellow": _("含黄牌"), "red": _("含红牌")},
    )
    towns = db.session.scalars(
        select(Region)
        .where(
            current_scope().clause(Region.code),
            Region.level.in_(["town", "village"]),
            Region.valid_to.is_(None),
        )
        .order_by(Region.code)
    ).all()
    return render_template(
        "official/risk_map.html",
        map=map_parts(m),
        bounds=bounds,
        filters=filters,
        regions=towns,
        can_risks=allows(current_user.role, "risks.read"),
    )


def default_period() -> tuple[dt.date, dt.date]:
    """The last six calendar months up to today (Asia/Shanghai)."""
    today = clock.today()
    month = today.replace(day=1)
    for _step in range(5):
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return month, today


def workbench_field_names() -> dict[str, str]:
    """Display names of the workbench's filters (as the form labels them)."""
    return {"from": _("起"), "to": _("止"), "kind": _("事件类型")}


def parent_shown(region: Region) -> Region | None:
    """The region one level up, when the caller may see it (the workbench's "↑" link)."""
    return region.parent if region.parent and current_scope().contains(region.parent.code) else None


@bp.route("/workbench")
@requires("metrics.read")
def workbench():
    """工作台: the measures of a region, a table by sub-region, trends, overdue and supervised;
    a period it cannot take: the filters again (400), the message beside the field."""
    start, end = default_period()
    try:
        filters = period_filters()
        filters.setdefault("date_from", start)
        filters.setdefault("date_to", end)
        date_from, date_to = measures.period_of(filters)
    except BadRequest as exc:
        region = measures.measured_region(request.args.get("region") or None)
        failed = forms.filter_failure(
            "workbench", exc.errors.get("query") or {}, workbench_field_names()
        )
        page = render_template(
            "official/workbench.html",
            region=region,
            parent=parent_shown(region),
            date_from=start,
            date_to=end,
            kind=request.args.get("kind", ""),
            failed=failed,
        )
        return page, 400
    region = measures.measured_region(request.args.get("region") or None)
    totals, breakdown, trend = measures.compute_metrics(
        region, date_from, date_to, filters.get("kind")
    )
    lists = {}
    for name, query in (("overdue", {"overdue": True}), ("supervised", {"supervised": True})):
        args = schemas.CaseQuery().load({**query, "region": region.code, "limit": 20})
        if name == "supervised":
            # Supervision (督办) shows until the case is closed for good.
            args["state"] = sorted(workflow.OPEN_STATES | {"resolved", "followed_up"})
        lists[name] = queries.soonest(args, 20)
    chart = trend_chart(
        [m["month"] for m in trend],
        [m["reported"] for m in trend],
        [m["closed"] for m in trend],
        _("按月上报与归档"),
        _("上报"),
        _("归档"),
    )
    export_query = {
        "region": region.code,
        "reported_from": date_from.isoformat(),
        "reported_to": date_to.isoformat(),
    }
    if filters.get("kind"):
        export_query["kind"] = filters["kind"]
    return render_template(
        "official/workbench.html",
        region=region,
        parent=parent_shown(region),
        failed=forms.NO_FAILURE,
        date_from=date_from,
        date_to=date_to,
        kind=filters.get("kind", ""),
        m=totals,
        breakdown=breakdown,
        trend=trend,
        chart=chart,
        lists=lists,
        departments=department_measures(region, date_from, date_to, filters.get("kind")),
        today=clock.today(),
        export_query=export_query,
        can_export=allows(current_user.role, "cases.export"),
        can_risk_export=allows(current_user.role, "risks.export"),
    )
