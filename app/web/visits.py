"""走访 and 考核 pages: log a visit from the phone (through the outbox), my visits and the
village's review, visit coverage, the monthly assessment, and the admin's weights."""

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

from app.assessment import schemas as assessment_schemas
from app.assessment import scores
from app.assessment import services as assessment
from app.core.errors import DomainError
from app.policy import requires
from app.scoping import current_scope
from app.visits import queries
from app.visits import schemas
from app.visits import services
from app.visits.models import PURPOSES
from app.web import forms
from app.web.field import home_centre
from app.web.layout import map_parts
from app.web.layout import tiles
from maps.pages import coverage_map
from maps.pages import report_map

bp = Blueprint("visit_pages", __name__)

# The domain's names (app/visits/models.py, app/assessment/models.py), marked for translation.
PURPOSE_LABELS = {
    "routine": _l("日常走访"),
    "key_people": _l("重点人群"),
    "disputes": _l("矛盾排查"),
    "policy": _l("政策宣传"),
    "other": _l("其他"),
}
COMPONENT_LABELS = {
    "reports": _l("上报事件"),
    "verified_reports": _l("上报并受理"),
    "inspections_on_time": _l("按期排查"),
    "visits": _l("走访"),
    "follow_ups": _l("回访"),
    "satisfaction": _l("满意率"),
}


@bp.route("/field/visits/new")
@requires("visits.log")
def new_visit():
    """记走访: place the visit, name the household, purpose, what was heard, photos; sent
    through the outbox, so it is kept on the phone while there is no network."""
    m = report_map(tiles(), home_centre(), _("点击地图确定走访位置"))
    return render_template(
        "field/visit_new.html",
        map=map_parts(m),
        purposes=[(p, str(PURPOSE_LABELS[p])) for p in PURPOSES],
        cells=[c.code for c in current_user.grid_cells],
        form_messages=forms.script_messages(
            visit_field_names(), lead=_("未能保存走访：%(reason)s", reason="{reason}")
        ),
    )


def visit_field_names() -> dict[str, str]:
    """Display names of the 记走访 form's fields (as the page labels them)."""
    return {
        "location": _("位置"),
        "household": _("户"),
        "householder": _("户主姓名"),
        "purpose": _("走访目的"),
        "heard": _("听到的情况"),
        "visited_at": _("走访时间"),
        "photos": _("照片"),
    }


def review_names() -> dict[str, str]:
    """The review form's fields by display name."""
    return {"comment": _("审阅意见")}


def render_visits(failed=forms.NO_FAILURE, status: int = 200):
    """The visits in scope (a grid worker: theirs), pending first for reviewers."""
    state = request.args.get("state") or None
    args = {"limit": 100, "review_state": state if state in ("pending", "reviewed") else None}
    page = queries.list_page(args, current_scope(), current_user.id)
    return (
        render_template(
            "field/visits.html",
            visits=page["items"],
            state=args["review_state"],
            failed=failed,
            can_review=current_user.role == "official",
            purposes=PURPOSE_LABELS,
        ),
        status,
    )


@bp.route("/field/visits")
@requires("visits.read")
def visits():
    """走访记录: my visits (grid workers), or the visits to review (officials)."""
    return render_visits()


@bp.route("/field/visits/<int:visit_id>/review", methods=["POST"])
@requires("visits.review")
def review_visit(visit_id: int):
    """Review one visit with a comment (as POST /api/v1/visits/<id>/actions/review)."""
    visit = queries.visible_visit(visit_id)
    body = {"comment": request.form.get("comment", "")}
    try:
        services.review(visit, current_user, body, forms.shown_version(request.form))
    except DomainError as exc:
        failed = forms.Failure.of(
            f"review-{visit_id}",
            lambda reason: _("未能审阅：%(reason)s", reason=reason),
            review_names(),
            errors=exc.errors.get("json"),
            message=exc.message,
            stale=exc.status == 409,
        )
        return render_visits(failed, exc.status)
    flash(_("已审阅"), "success")
    return redirect(url_for("visit_pages.visits", state="pending"))


@bp.route("/visits/coverage")
@requires("visits.read")
def coverage():
    """走访覆盖: per cell, village and town, visits and households in the period."""
    args, problem = {}, ""
    try:
        args = schemas.CoverageQuery().load(
            {k: v for k, v in request.args.items() if k in ("from", "to") and v}
        )
        data = queries.coverage(args, current_scope())
    except (ValidationError, DomainError) as exc:
        problem = getattr(exc, "message", "") or _("日期格式应为 YYYY-MM-DD")
        data = queries.coverage({}, current_scope())
    zoom = {"village": 14, "town": 12}.get(current_user.region.level, 10)
    m = coverage_map(tiles(), home_centre(), _("各网格距上次走访的天数"), zoom=zoom)
    return render_template(
        "official/visit_coverage.html",
        data=data,
        problem=problem,
        map=map_parts(m),
        cells={c["code"]: [c["days_since_last"], c["visits"]] for c in data["cells"]},
    )


@bp.route("/assessment")
@requires("assessment.read")
def assessment_page():
    """考核: a grid worker's own score with its parts; officials the ranking of their scope."""
    problem = ""
    try:
        month = scores.month_of(request.args.get("month"))
    except DomainError as exc:
        problem = exc.message
        month = scores.month_of(None)
    items = scores.scores(current_scope(), current_user, month)
    return render_template(
        "official/assessment.html",
        month=month.label,
        ranking=items,
        problem=problem,
        components=COMPONENT_LABELS,
    )


# --- the admin's weights -------------------------------------------------------------------------


def weight_names() -> dict[str, str]:
    return {"weight": _("权重"), "target": _("每月目标")}


def render_weights(failed=forms.NO_FAILURE, status: int = 200):
    return (
        render_template(
            "admin/assessment_weights.html",
            weights=assessment.weights(),
            failed=failed,
            components=COMPONENT_LABELS,
        ),
        status,
    )


@bp.route("/admin/assessment-weights")
@requires("assessment.manage")
def weights():
    """考核权重: each component's weight and monthly target."""
    return render_weights()


@bp.route("/admin/assessment-weights/<component>", methods=["POST"])
@requires("assessment.manage")
def update_weight(component: str):
    """Change one component (as PATCH /api/v1/assessment-weights/<component>)."""
    row = assessment.weight_of(component)
    body = {k: forms.form_int(request.form.get(k, "")) for k in ("weight", "target")}
    try:
        try:
            data = assessment_schemas.WeightIn().load(body)
        except ValidationError as exc:
            raise DomainError(422, errors={"json": exc.messages}) from None
        assessment.update_weight(row, data, forms.shown_version(request.form), current_user)
    except DomainError as exc:
        failed = forms.Failure.of(
            f"weight-{component}",
            lambda reason: _("未能保存考核权重：%(reason)s", reason=reason),
            weight_names(),
            errors=exc.errors.get("json"),
            message=exc.message,
            stale=exc.status == 409,
        )
        return render_weights(failed, exc.status)
    flash(_("考核权重已保存"), "success")
    return redirect(url_for("visit_pages.weights"))
