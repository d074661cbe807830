"""Administrators' pages: users and tokens, the deadline policy, regions and grid cells, categories
and the inspection schedule.

Each form calls the same services as the API and the command line, inside the admin's region
subtree, and says what happened in a flash message.
"""

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
from sqlalchemy import select

from app.accounts import services as accounts
from app.accounts.api import scoped_user
from app.accounts.models import ROLES
from app.accounts.models import ApiToken
from app.accounts.models import User
from app.audit import services as audit
from app.cases import schemas as case_schemas
from app.cases import services as case_services
from app.cases.models import DeadlinePolicy
from app.core.errors import DomainError
from app.errors import ApiError
from app.extensions import db
from app.geo import services as geo
from app.geo.models import Region
from app.policy import requires
from app.risks import actions as risk_actions
from app.risks import schemas as risk_schemas
from app.risks import services as risks
from app.risks.models import LEVELS
from app.risks.models import RiskCategory
from app.scoping import current_scope
from app.web import forms
from app.web import labels
from app.web import map_parts
from app.web import tiles
from maps.pages import regions_map

bp = Blueprint("admin", __name__, url_prefix="/admin")


# --- users ---------------------------------------------------------------------------------------


@bp.route("/users")
@requires("users.read")
def users():
    """Users of the admin's region subtree, and the form to create one."""
    scope = current_scope()
    rows = db.session.scalars(
        select(User).join(User.region).where(scope.clause(Region.code)).order_by(User.username)
    ).all()
    regions = db.session.scalars(
        select(Region)
        .where(scope.clause(Region.code), Region.valid_to.is_(None))
        .order_by(Region.code)
    ).all()
    return render_template("admin/users.html", users=rows, roles=ROLES, regions=regions)


@bp.route("/users", methods=["POST"])
@requires("users.manage")
def create_user():
    """Create a user inside the admin's subtree."""
    form = request.form
    region = form.get("region", "")
    if not current_scope().contains(region):
        flash(_("只能在本辖区内创建用户"), "error")
        return redirect(url_for("admin.users"))
    cells = [
        c.strip() for c in form.get("grid_cells", "").replace("，", ",").split(",") if c.strip()
    ]
    try:
        user = accounts.create_user(
            form.get("username", "").strip(),
            form.get("password", ""),
            form.get("role", ""),
            region,
            form.get("display_name", "").strip() or None,
            form.get("phone", "").strip() or None,
            cells,
        )
    except accounts.AccountError as exc:
        db.session.rollback()
        flash(_("未能创建用户：%(reason)s", reason=exc.message), "error")
        return redirect(url_for("admin.users"))
    db.session.commit()
    flash(_("已创建用户 %(name)s", name=user.username), "success")
    return redirect(url_for("admin.user_page", user_id=user.id))


@bp.route("/users/<int:user_id>")
@requires("users.read")
def user_page(user_id: int):
    """One user: details, tokens, and the actions on them."""
    user = scoped_user(user_id)
    tokens = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    ).all()
    return render_template("admin/user.html", user=user, tokens=tokens)


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@requires("users.manage")
def deactivate_user(user_id: int):
    """Deactivate a user: their sessions end and tokens are revoked."""
    user = scoped_user(user_id)
    if user.id == current_user.id:
        flash(_("不能停用自己的账号"), "error")
        return redirect(url_for("admin.user_page", user_id=user_id))
    try:
        accounts.deactivate(user)
    except accounts.AccountError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("admin.user_page", user_id=user_id))
    db.session.commit()
    flash(_("已停用 %(name)s：其登录与令牌均已失效", name=user.username), "success")
    return redirect(url_for("admin.user_page", user_id=user_id))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@requires("users.manage")
def reset_password(user_id: int):
    """Set a user's password; their sessions end."""
    user = scoped_user(user_id)
    try:
        accounts.reset_password(user, request.form.get("new_password", ""))
    except accounts.AccountError as exc:
        db.session.rollback()
        flash(_("未能重置密码：%(reason)s", reason=exc.message), "error")
        return redirect(url_for("admin.user_page", user_id=user_id))
    db.session.commit()
    flash(_("已重置 %(name)s 的密码，其登录已失效", name=user.username), "success")
    return redirect(url_for("admin.user_page", user_id=user_id))


@bp.route("/users/<int:user_id>/tokens", methods=["POST"])
@requires("users.manage")
def create_token(user_id: int):
    """Create a bearer token for a user; its secret is shown once, on this answer only."""
    user = scoped_user(user_id)
    days = request.form.get("days", "").strip()
    try:
        token, secret = accounts.create_token(
            user,
            request.form.get("name", "").strip() or "web",
            int(days) if days.isdigit() else None,
            current_user,
        )
    except accounts.AccountError as exc:
        db.session.rollback()
        flash(_("未能创建令牌：%(reason)s", reason=exc.message), "error")
        return redirect(url_for("admin.user_page", user_id=user_id))
    db.session.commit()
    tokens = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    ).all()
    return render_template("admin/user.html", user=user, tokens=tokens, new_secret=secret)


@bp.route("/users/<int:user_id>/tokens/<int:token_id>/revoke", methods=["POST"])
@requires("users.manage")
def revoke_token(user_id: int, token_id: int):
    """Revoke one of a user's tokens."""
    user = scoped_user(user_id)
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise ApiError(404, _("令牌不存在"))
    accounts.revoke_token(token, current_user)
    db.session.commit()
    flash(_("已吊销令牌 %(name)s", name=token.name), "success")
    return redirect(url_for("admin.user_page", user_id=user_id))


# --- the deadline policy -------------------------------------------------------------------------


@bp.route("/deadlines")
@requires("deadlines.manage")
def deadlines():
    """Every clock of the deadline policy, each editable."""
    rows = db.session.scalars(
        select(DeadlinePolicy).order_by(
            DeadlinePolicy.kind, DeadlinePolicy.clock, DeadlinePolicy.level, DeadlinePolicy.variant
        )
    ).all()
    return render_template("admin/deadlines.html", policies=rows)


@bp.route("/deadlines/<int:policy_id>", methods=["POST"])
@requires("deadlines.manage")
def update_deadline(policy_id: int):
    """Change a clock's length or unit (as PUT /api/v1/deadline-policies/<id> does)."""
    row = db.session.get(DeadlinePolicy, policy_id)
    if row is None:
        raise ApiError(404, _("期限规则不存在"))
    try:
        days = request.form.get("days", "").strip()
        data = case_schemas.DeadlinePolicyIn().load(
            {
                "days": int(days) if days.isdigit() else days,
                "unit": request.form.get("unit", "days"),
            }
        )
    except case_schemas.ValidationError as exc:
        flash(
            _("未能修改：%(reason)s", reason=json.dumps(exc.messages, ensure_ascii=False)), "error"
        )
        return redirect(url_for("admin.deadlines"))
    before = {"days": row.days, "unit": row.unit}
    row.days, row.unit = data["days"], data["unit"]
    row.updated_at = case_services.now()
    audit.record(
        "deadlines.update",
        object_type="deadline_policy",
        object_id=row.id,
        detail={
            "rule": f"{row.kind}/{row.level}/{row.clock}/{row.variant}",
            "before": before,
            "after": {"days": row.days, "unit": row.unit},
        },
    )
    db.session.commit()
    flash(_("已修改期限规则：之后开始的期限按新规则计算"), "success")
    return redirect(url_for("admin.deadlines"))


# --- regions and grid cells ----------------------------------------------------------------------


@bp.route("/regions")
@requires("geo.manage")
def regions():
    """Regions and grid cells on a map; import GeoJSON; generate a village's grid."""
    scope = current_scope()
    villages = db.session.scalars(
        select(Region)
        .where(scope.clause(Region.code), Region.level == "village", Region.valid_to.is_(None))
        .order_by(Region.code)
    ).all()
    m = regions_map(tiles(), _("区划与网格"))
    return render_template(
        "admin/regions.html",
        map=map_parts(m),
        villages=villages,
        levels=geo.IMPORT_LEVELS,
        problems=request.args.getlist("problem"),
    )


@bp.route("/regions/import", methods=["POST"])
@requires("geo.manage")
def import_regions():
    """Import a GeoJSON FeatureCollection, checked exactly as `flask geo import` checks it."""
    file = request.files.get("file")
    level = request.form.get("level", "")
    crs = request.form.get("crs", "wgs84")
    if file is None or level not in geo.IMPORT_LEVELS or crs not in ("wgs84", "gcj02", "bd09"):
        flash(_("请选择文件、层级与坐标系"), "error")
        return redirect(url_for("admin.regions"))
    try:
        collection = json.load(file.stream)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        flash(f"导入失败：文件不是有效的 JSON（{exc}）", "error")
        return redirect(url_for("admin.regions"))
    outside = [
        f.get("properties", {}).get("code")
        for f in (collection.get("features") or [] if isinstance(collection, dict) else [])
        if isinstance(f, dict)
        and isinstance(f.get("properties"), dict)
        and not current_scope().contains(str(f["properties"].get("code", "")))
    ]
    if outside:
        flash(
            _("导入失败：以下代码不在您的辖区内：%(codes)s", codes="、".join(map(str, outside))),
            "error",
        )
        return redirect(url_for("admin.regions"))
    try:
        result = geo.import_geojson(collection, level, crs)
    except geo.ImportRejected as exc:
        db.session.rollback()
        # The command line's words (app/geo/cli.py), then every problem.
        flash(f"导入失败，未写入任何数据；共 {len(exc.problems)} 个问题：", "error")
        for problem in exc.problems[:100]:
            flash(f"- {problem}", "error")
        return redirect(url_for("admin.regions"))
    audit.record("geo.import", object_type="regions", detail={"level": level, "crs": crs})
    db.session.commit()
    flash(
        f"导入完成（{level}）：新增 {result.inserted}，更新 {result.updated}，"
        f"未变 {result.unchanged}",
        "success",
    )
    return redirect(url_for("admin.regions"))


@bp.route("/regions/make-grid", methods=["POST"])
@requires("geo.manage")
def make_grid():
    """Generate grid cells for a village, as `flask geo make-grid` does."""
    code = request.form.get("village", "")
    shape = request.form.get("shape", "square")
    size = request.form.get("cell_size", "500")
    if not current_scope().contains(code) or shape not in ("square", "hex"):
        flash(_("请选择本辖区内的村和网格形状"), "error")
        return redirect(url_for("admin.regions"))
    try:
        result = geo.make_grid(code, shape, float(size))
    except ValueError:
        flash(_("网格边长应为数字（米）"), "error")
        return redirect(url_for("admin.regions"))
    except geo.GridError as exc:
        db.session.rollback()
        flash(f"生成失败：{exc}", "error")
        return redirect(url_for("admin.regions"))
    audit.record("geo.make_grid", object_type="region", object_id=code, region_code=code)
    db.session.commit()
    flash(
        f"村 {result.village_code}：生成 {result.cells} 个网格（EPSG:{result.srid}），"
        f"合并碎片 {result.merged_slivers} 个，替换原有网格 {result.replaced} 个",
        "success",
    )
    return redirect(url_for("admin.regions"))


# --- categories and the inspection schedule ------------------------------------------------------


def category_field_names() -> dict[str, str]:
    """Display names of a risk category's fields, for validation messages."""
    return {
        "name": _("名称"),
        "subcategories": _("细类"),
        "restricted": _("重点人群（受限）"),
        "active": _("状态"),
        "sort_order": _("排序"),
    }


def render_categories(status: int = 200, failed: dict | None = None):
    """Case categories (fixed), risk categories and the schedule, each risk one editable.

    `failed` re-opens the form that failed ("create", "category-<id>" or "schedule") with what
    was typed, unless the failure was a stale version (then the current values show).
    """

    risk_categories = db.session.scalars(
        select(RiskCategory).order_by(RiskCategory.sort_order, RiskCategory.id)
    ).all()
    return (
        render_template(
            "admin/categories.html",
            case_categories=case_schemas.CATEGORIES,
            risk_categories=risk_categories,
            versions={c.id: c.version for c in risk_categories},
            schedule=risks.schedule(),
            levels=LEVELS,
            failed=failed or {},
        ),
        status,
    )


def refused(form: str, message: str, status: int, stale: bool = False):
    """Say why nothing was saved, and show the page again (the form re-opened unless stale)."""
    db.session.rollback()
    flash(message, "error")
    values = {} if stale else request.form.to_dict()
    return render_categories(status, {"form": form, "values": values, "stale": stale})


@bp.route("/categories")
@requires("risks.manage")
def categories():
    """Case categories (set by law and practice), risk categories and the inspection schedule."""
    return render_categories()


@bp.route("/categories", methods=["POST"])
@requires("risks.manage")
def create_category():
    """Add a risk category (as POST /api/v1/risk-categories does)."""

    form = request.form
    try:
        data = risk_schemas.CategoryIn().load(
            {
                "name": form.get("name", "").strip(),
                "subcategories": forms.split_list(form.get("subcategories", "")),
                "restricted": form.get("restricted") == "true",
            }
        )
        category = risks.create_category(data, current_user)
    except risk_schemas.ValidationError as exc:
        reason = forms.describe_errors(exc.messages, category_field_names())
        return refused("create", _("未能新增风险类别：%(reason)s", reason=reason), 422)
    except DomainError as exc:
        return refused("create", _("未能新增风险类别：%(reason)s", reason=exc.message), exc.status)
    db.session.commit()
    flash(_("已新增风险类别“%(name)s”", name=category.name), "success")
    return redirect(url_for("admin.categories"))


@bp.route("/categories/<int:category_id>", methods=["POST"])
@requires("risks.manage")
def update_category(category_id: int):
    """Rename a risk category, change its sub-categories, (de)activate it (as PUT
    /api/v1/risk-categories/<id> does), with the version the page showed."""

    category = db.session.get(RiskCategory, category_id)
    if category is None:
        raise ApiError(404, _("风险类别不存在"))
    form, shown = request.form, f"category-{category_id}"
    typed = {
        "name": form.get("name", "").strip(),
        "subcategories": forms.split_list(form.get("subcategories", "")),
        "active": form.get("active") == "true",
    }
    # Only what the admin changed is sent: the audit entry then says exactly that.
    changes = {key: value for key, value in typed.items() if value != getattr(category, key)}
    if not changes:
        flash(_("风险类别“%(name)s”没有改动", name=category.name), "info")
        return redirect(url_for("admin.categories"))
    try:
        data = risk_schemas.CategoryUpdate().load(changes)
        shown_version = form.get("version", "").strip()
        risk_actions.check_version(
            category,
            int(shown_version) if shown_version.isdigit() else None,
            message=risk_actions.CATEGORY_STALE,
        )
        risks.update_category(category, data, current_user)
    except risk_schemas.ValidationError as exc:
        reason = forms.describe_errors(exc.messages, category_field_names())
        return refused(shown, _("未能保存：%(reason)s", reason=reason), 422)
    except DomainError as exc:
        stale = "version" in exc.errors
        return refused(shown, _("未能保存：%(reason)s", reason=exc.message), exc.status, stale)
    db.session.commit()
    name = category.name
    if set(changes) == {"active"}:
        flash(
            _("已启用风险类别“%(name)s”", name=name)
            if category.active
            else _("已停用风险类别“%(name)s”：不能再用它登记新的风险点", name=name),
            "success",
        )
    else:
        flash(_("已保存风险类别“%(name)s”", name=name), "success")
    return redirect(url_for("admin.categories"))


@bp.route("/categories/schedule", methods=["POST"])
@requires("risks.manage")
def update_schedule():
    """Change inspection periods (as PUT /api/v1/inspection-schedule does).

    Only the levels the admin changed are sent; a level someone else changed since the page
    was shown (its `was_<level>` no longer current) is refused, and nothing is saved.
    """

    form, current = request.form, risks.schedule()
    changes = {}
    for level in LEVELS:
        typed, was = form.get(level, "").strip(), form.get(f"was_{level}", "").strip()
        if typed == was:
            continue
        if was != str(current[level]):
            return refused(
                "schedule",
                _("排查周期已被他人修改，您的修改没有保存：请核对后重新填写"),
                409,
                stale=True,
            )
        changes[level] = forms.form_int(typed)
    if not changes:
        flash(_("排查周期没有改动"), "info")
        return redirect(url_for("admin.categories"))
    try:
        data = risk_schemas.ScheduleIn().load(changes)
    except risk_schemas.ValidationError as exc:
        names = {level: labels.label("risk_level", level) for level in LEVELS}
        reason = forms.describe_errors(exc.messages, names)
        return refused("schedule", _("未能保存排查周期：%(reason)s", reason=reason), 422)
    risks.update_schedule(data, current_user)
    db.session.commit()
    said = _("；").join(
        _(
            "%(level)s %(before)s → %(after)s 天",
            level=labels.label("risk_level", level),
            before=current[level],
            after=days,
        )
        for level, days in data.items()
    )
    flash(
        _("已修改排查周期（%(changes)s），在控风险点的下次排查日期已随之调整", changes=said),
        "success",
    )
    return redirect(url_for("admin.categories"))
