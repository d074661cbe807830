"""专项排查 pages: officials' list, launch form and progress page (map, table, ledger); a grid
worker's task page with the checklist and the three kinds of finding.

Forms are read into the API's body shapes and go through the same services and action runner
(app/campaigns/services.py, app/core/actions.run). A risk point or case found on a task is
registered from the task page itself, with the few fields its service requires and the location
defaulting to a point inside the task's cell; details (parties, photos) are added on the
case or risk point page afterwards (docs/campaigns.md).
"""

from __future__ import annotations

import secrets

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy import text

from app.campaigns import queries
from app.campaigns import schemas
from app.campaigns import services
from app.campaigns.models import ANSWERS
from app.campaigns.models import RESULTS
from app.cases.schemas import CATEGORIES as CASE_CATEGORIES
from app.core.actions import Step
from app.core.actions import run
from app.core.errors import DomainError
from app.core.errors import Invalid
from app.extensions import db
from app.geo.models import Region
from app.policy import allows
from app.policy import requires
from app.risks.models import LEVELS as RISK_LEVELS
from app.risks.models import RiskCategory
from app.scoping import current_scope
from app.web import forms
from app.web import labels
from app.web.layout import map_parts
from app.web.layout import tiles
from app.web.official import region_centre
from maps.pages import campaign_map

bp = Blueprint("campaign_pages", __name__)

SUGGESTED_CATEGORIES = ("欠薪", "四乱清理", "重点人群走访", "矛盾纠纷排查", "安全隐患排查")


def launch_field_names() -> dict[str, str]:
    """Display names of the launch form's fields."""
    return {
        "title": _("名称"),
        "region": _("排查范围"),
        "category": _("类别"),
        "checklist": _("排查清单"),
        "deadline": _("截止日期"),
        "starts_on": _("开始日期"),
    }


def finding_field_names() -> dict[str, str]:
    """Display names of the finding form's fields (nested ones dotted, as the API names them)."""
    return {
        "result": _("排查结果"),
        "answers": _("排查清单"),
        "note": _("备注"),
        "risk_point.category": _("风险类别"),
        "risk_point.level": _("风险等级"),
        "risk_point.name": _("风险点名称"),
        "risk_point.measures": _("管控措施"),
        "risk_point.geometry": _("位置"),
        "case.kind": _("事件类型"),
        "case.category": _("事件类别"),
        "case.title": _("事件标题"),
        "case.description": _("事件描述"),
        "case.lon": _("位置"),
        "lon": _("经度"),
        "lat": _("纬度"),
    }


def launch_regions() -> list[Region]:
    """The regions an official may launch over: their own and those under it, in force."""
    return db.session.scalars(
        select(Region)
        .where(current_scope().clause(Region.code), Region.valid_to.is_(None))
        .order_by(Region.code)
    ).all()


def render_list(failed=forms.NO_FAILURE, status: int = 200):
    """The campaign list, with the launch form for officials."""
    can_launch = allows(current_user.role, "campaigns.launch")
    return (
        render_template(
            "campaigns/index.html",
            campaigns=queries.list_campaigns({}, current_user),
            can_launch=can_launch,
            regions=launch_regions() if can_launch else [],
            suggested=SUGGESTED_CATEGORIES,
            failed=failed,
        ),
        status,
    )


@bp.route("/campaigns")
@requires("campaigns.read")
def campaign_list():
    """专项排查: campaigns over or inside the user's region, with progress."""
    return render_list()


@bp.route("/campaigns", methods=["POST"])
@requires("campaigns.launch")
def launch():
    """Launch a campaign from the form (checklist: one item per line)."""
    form = request.form
    body = {k: form.get(k, "").strip() for k in ("title", "region", "category", "deadline")}
    body = {k: v for k, v in body.items() if v}
    body["checklist"] = [line.strip() for line in form.get("checklist", "").splitlines()]
    body["checklist"] = [line for line in body["checklist"] if line]
    try:
        try:
            data = schemas.CampaignIn().load(body)
        except ValidationError as exc:
            raise Invalid(errors={"json": exc.messages}) from None
        with db.session.begin_nested():
            campaign = services.launch(data, current_user)
    except DomainError as exc:
        failed = forms.Failure.of(
            "launch",
            lambda reason: _("未能发起专项排查：%(reason)s", reason=reason),
            launch_field_names(),
            errors=exc.errors.get("json"),
            message=exc.message,
        )
        return render_list(failed, exc.status)
    flash(_("已发起专项排查“%(title)s”", title=campaign.title), "success")
    return redirect(url_for("campaign_pages.campaign", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>")
@requires("campaigns.read")
def campaign(campaign_id: int):
    """A campaign's progress: a map of its cells (done, pending, overdue) and a table by town,
    village and cell; the ledger download; closing it."""
    found = queries.visible_campaign(campaign_id, current_user)
    shown = queries.detail(found, current_user)
    centre, bounds = region_centre(found.region)
    zoom = {"province": 7, "prefecture": 8, "county": 10, "town": 12, "village": 14}[
        found.region.level
    ]
    m = campaign_map(
        tiles(),
        _("专项排查进度地图"),
        centre=centre,
        zoom=zoom,
        legend_title=_("网格排查进度"),
        state_names={"done": _("已完成"), "pending": _("未完成"), "overdue": _("已逾期")},
    )
    return render_template(
        "campaigns/detail.html",
        c=shown,
        map=map_parts(m),
        bounds=bounds,
        can_export=allows(current_user.role, "campaigns.export"),
        can_close=(
            allows(current_user.role, "campaigns.launch")
            and shown["state"] == "active"
            and current_scope().contains(found.region_code)
        ),
    )


@bp.route("/campaigns/<int:campaign_id>/close", methods=["POST"])
@requires("campaigns.launch")
def close(campaign_id: int):
    """Close the campaign with the version the page showed."""
    found = queries.visible_campaign(campaign_id, current_user)
    version = forms.shown_version(request.form)
    try:
        run(
            Step(schemas.CampaignCloseIn, lambda c, _d: services.close(c, current_user, version)),
            found,
            {},
        )
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("campaign_pages.campaign", campaign_id=campaign_id))
    flash(_("专项排查已结束"), "success")
    return redirect(url_for("campaign_pages.campaign", campaign_id=campaign_id))


def cell_point(cell_id: int) -> tuple[float, float]:
    """A point inside a grid cell (lon, lat): where a finding is placed unless changed."""
    row = db.session.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p"
            " FROM grid_cells WHERE id = :id) s"
        ),
        {"id": cell_id},
    ).one()
    return round(row[0], 6), round(row[1], 6)


def render_task(task, failed=forms.NO_FAILURE, status: int = 200):
    """The task page."""
    lon, lat = cell_point(task.cell_id)
    risk_categories = db.session.scalars(
        select(RiskCategory.name)
        .where(RiskCategory.active, ~RiskCategory.restricted)
        .order_by(RiskCategory.sort_order, RiskCategory.id)
    ).all()
    return (
        render_template(
            "campaigns/task.html",
            t=queries.task_json(task),
            can_record=allows(current_user.role, "campaigns.record"),
            results=[(r, labels.label("campaign_result", r)) for r in RESULTS],
            answers=[(a, labels.label("campaign_answer", a)) for a in ANSWERS],
            risk_categories=[(c, labels.label("category", c)) for c in risk_categories],
            risk_levels=[(lv, labels.label("risk_level", lv)) for lv in RISK_LEVELS],
            case_kinds=[(k, labels.label("kind", k)) for k in CASE_CATEGORIES],
            case_categories=[
                (c, labels.label("kind", k) + " · " + labels.label("category", c))
                for k, cs in CASE_CATEGORIES.items()
                for c in cs
            ],
            lon=lon,
            lat=lat,
            client_key=secrets.token_hex(8),
            failed=failed,
        ),
        status,
    )


@bp.route("/campaign-tasks/<int:task_id>")
@requires("campaigns.read")
def task(task_id: int):
    """A cell's task: the checklist and the form to record a finding."""
    return render_task(queries.visible_task(task_id, current_user))


def form_number(typed: str) -> float | str:
    """A coordinate typed in a box (as typed when it is not a number, for the schema to name)."""
    try:
        return float(typed.strip())
    except ValueError:
        return typed


def finding_body(form, checklist: list[str]) -> dict:
    """The finding form as the API's body (answers by item index: a-0, a-1, ...)."""
    body: dict = {"result": form.get("result", "")}
    body["answers"] = {
        item: form[f"a-{i}"] for i, item in enumerate(checklist) if form.get(f"a-{i}")
    }
    if form.get("note", "").strip():
        body["note"] = form["note"].strip()
    if form.get("client_key"):
        body["client_key"] = form["client_key"]
    lon, lat = form_number(form.get("lon", "")), form_number(form.get("lat", ""))
    if body["result"] == "risk_point":
        fields = ("category", "level", "name", "measures")
        body["risk_point"] = {k: form.get(f"risk_point.{k}", "").strip() for k in fields}
        body["risk_point"] = {k: v for k, v in body["risk_point"].items() if v}
        body["risk_point"]["geometry"] = {"type": "Point", "coordinates": [lon, lat]}
    elif body["result"] == "case":
        fields = ("kind", "category", "title", "description")
        body["case"] = {k: form.get(f"case.{k}", "").strip() for k in fields}
        body["case"] = {k: v for k, v in body["case"].items() if v}
        body["case"] |= {"lon": lon, "lat": lat, "source": "grid_patrol"}
    return body


@bp.route("/campaign-tasks/<int:task_id>/findings", methods=["POST"])
@requires("campaigns.record")
def record(task_id: int):
    """Record a finding from the task page's form (a retry with the form's key records once)."""
    found = queries.visible_task(task_id, current_user)
    body = finding_body(request.form, found.campaign.checklist)
    key = body.get("client_key")
    if key and queries.finding_with_key(found.id, key) is not None:
        return redirect(url_for("campaign_pages.task", task_id=task_id))
    step = Step(
        schemas.CampaignFindingIn, lambda t, data: services.record_finding(t, current_user, data)
    )
    try:
        finding = run(step, found, body)
    except DomainError as exc:
        failed = forms.Failure.of(
            "finding",
            lambda reason: _("未能录入：%(reason)s", reason=reason),
            finding_field_names(),
            errors=exc.errors.get("json"),
            message=exc.message,
        )
        return render_task(found, failed, exc.status)
    flash(
        _("已录入：%(result)s", result=labels.label("campaign_result", finding.result)), "success"
    )
    return redirect(url_for("campaign_pages.task", task_id=task_id))
