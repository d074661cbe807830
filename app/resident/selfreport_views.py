"""Self-report pages (随手拍): the resident's /report/public (no account, phone-first) and the
grid worker's page for one report, with its photos, its point and the verify/decline forms."""

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
from sqlalchemy import text

from app.core import actions
from app.core.errors import DomainError
from app.extensions import db
from app.policy import public
from app.policy import requires
from app.resident import selfreports
from app.web import forms
from app.web.layout import map_parts
from app.web.layout import tiles
from maps.base import DEMO_CENTRE
from maps.pages import case_map
from maps.pages import report_map

bp = Blueprint("selfreport_pages", __name__)

# Display names of the stored Chinese values (stages and public categories), translated.
NAMES = {
    "待核实": _l("待核实"),
    "已核实": _l("已核实"),
    "未予受理": _l("未予受理"),
    "已超时": _l("已超时"),
    "邻里纠纷": _l("邻里纠纷"),
    "环境卫生": _l("环境卫生"),
    "乱占乱建": _l("乱占乱建"),
    "治安隐患": _l("治安隐患"),
    "交通安全": _l("交通安全"),
    "安全隐患": _l("安全隐患"),
    "民生服务": _l("民生服务"),
    "其他": _l("其他"),
}

# The current cells' outlines, simplified (public geography, no people): the resident sees where
# reports are taken even when no tile server answers.
CELLS_SQL = text(
    """
    SELECT json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(
             json_build_object('type', 'Feature', 'id', c.code,
                               'properties', json_build_object('name', c.name),
                               'geometry', ST_AsGeoJSON(
                                   ST_SimplifyPreserveTopology(c.geom, 0.0002), 5)::json)
           ), '[]'::json))
      FROM grid_cells c JOIN regions v ON v.id = c.village_id
     WHERE v.valid_to IS NULL OR v.valid_to > current_date
    """
)
CENTRE_SQL = text(
    "SELECT ST_Y(ST_Centroid(ST_Collect(geom))), ST_X(ST_Centroid(ST_Collect(geom))) "
    "FROM grid_cells"
)


@bp.route("/report/public")
@public
def report_page():
    """随手拍: confirm a phone, tap the map, describe, add up to 3 photos, get a receipt."""
    row = db.session.execute(CENTRE_SQL).first()
    centre = (row[0], row[1]) if row and row[0] is not None else DEMO_CENTRE
    m = report_map(tiles(), centre, _("点击地图确定位置"))
    return render_template(
        "resident/report_public.html",
        map=map_parts(m),
        cells=db.session.scalar(CELLS_SQL),
        categories=list(selfreports.PUBLIC_CATEGORIES),
        max_photos=selfreports.MAX_PHOTOS,
        names=NAMES,
    )


def render_report(report, status: int = 200):
    """The staff page of one self-report."""
    detail = selfreports.detail(report, current_user)
    m = case_map(tiles(), (detail["lat"], detail["lon"]), _("随手拍位置"))
    return (
        render_template("resident/self_report.html", r=detail, map=map_parts(m), names=NAMES),
        status,
    )


@bp.route("/self-reports/<number>")
@requires("selfreports.read")
def self_report(number: str):
    """One self-report: what the resident wrote, the photos, the point, and what to do."""
    return render_report(selfreports.visible(number, current_user))


def _decide(number: str, make_step, body: dict, done: str):
    report = selfreports.visible(number, current_user)
    version = forms.shown_version(request.form)
    try:
        actions.run(make_step(report, current_user, version), report, body, version=version)
    except DomainError as exc:
        flash(exc.message, "error")
        return render_report(report, exc.status)
    flash(done, "success")
    return redirect(url_for("selfreport_pages.self_report", number=number))


@bp.route("/self-reports/<number>/verify", methods=["POST"])
@requires("selfreports.act")
def verify(number: str):
    """核实 from the page's form: the report becomes a case."""
    name = request.form.get("applicant_name", "").strip()
    body = {"applicant_name": name} if name else {}
    return _decide(number, selfreports.verify_step, body, _("已核实，已登记为事件"))


@bp.route("/self-reports/<number>/decline", methods=["POST"])
@requires("selfreports.act")
def decline(number: str):
    """不予受理 from the page's form, with the reason the resident will read."""
    reason = request.form.get("reason", "").strip()
    body = {"reason": reason} if reason else {}
    return _decide(number, selfreports.decline_step, body, _("已不予受理，群众将看到理由"))
