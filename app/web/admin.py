"""Administrators' pages: users and tokens, departments and their routing table, the deadline
policy, regions and grid cells, categories and the inspection schedule.

Each form calls the same services as the API and the command line, inside the admin's region
subtree. A refused form comes back as typed with each field's message beside it and a summary
at the top (app/web/forms.Failure); the request boundary commits a success and rolls back the
rest (app/core/transaction.py), so nothing here commits or rolls back.
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
from marshmallow import ValidationError
from sqlalchemy import select

from app.accounts import services as accounts
from app.accounts.models import ROLES
from app.accounts.models import ApiToken
from app.accounts.models import User
from app.audit import services as audit
from app.cases import schemas as case_schemas
from app.core.errors import DomainError
from app.core.errors import NotFound
from app.deadlines import policy
from app.deadlines.models import DeadlinePolicy
from app.dispatch import department_schemas
from app.dispatch import departments as units
from app.dispatch.department_schemas import CASE_CATEGORIES
from app.dispatch.models import DEPARTMENT_KINDS
from app.dispatch.models import Department
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
from app.web.forms import NO_FAILURE
from app.web.forms import Failure
from app.web.layout import map_parts
from app.web.layout import tiles
from maps.pages import regions_map

bp = Blueprint("admin", __name__, url_prefix="/admin")


def refusal(exc: DomainError) -> tuple[int, str, dict]:
    """(status, message, field errors) of a service's refusal."""
    return exc.status, exc.message, (exc.errors or {}).get("json") or {}


# --- users ---------------------------------------------------------------------------------------


def user_field_names() -> dict[str, str]:
    """Display names of the user forms' fields (the services' field names → the form's input)."""
    return {
        "username": _("用户名"),
        "display_name": _("姓名"),
        "phone": _("电话"),
        "password": _("初始密码"),
        "role": _("角色"),
        "region": _("辖区"),
        "grid_cells": _("网格"),
        "new_password": _("新密码"),
        "name": _("名称"),
        "days": _("有效天数"),
        "department": _("所属部门"),
    }


# The account services name a field by their word; the page's input is called differently.
ACCOUNT_FIELDS = {"grid": "grid_cells"}


def account_refused(form: str, lead, exc: DomainError, rename: dict | None = None):
    """A Failure from an account service's refusal, its fields renamed to the form's inputs."""
    names = rename or ACCOUNT_FIELDS
    fields = (exc.errors or {}).get("json") or {}
    errors = {names.get(field, field): messages for field, messages in fields.items()}
    message = "" if errors and set(errors) <= set(user_field_names()) else exc.message
    return Failure.of(form, lead, user_field_names(), errors=errors, message=message)


@bp.route("/users")
@requires("users.read")
def users():
    """Users of the admin's region subtree, and the form to create one."""
    return render_users()


def render_users(status: int = 200, failed: Failure = NO_FAILURE):
    """The users page; `failed` re-opens the create form as typed, with its messages."""
    scope = current_scope()
    rows = db.session.scalars(
        select(User).join(User.region).where(scope.clause(Region.code)).order_by(User.username)
    ).all()
    regions = db.session.scalars(
        select(Region)
        .where(scope.clause(Region.code), Region.valid_to.is_(None))
        .order_by(Region.code)
    ).all()
    own_units = [
        d for d in units.departments_in_scope(scope, active=True) if scope.contains(d.region_code)
    ]
    page = render_template(
        "admin/users.html",
        users=rows,
        role_options=labels.choices("role", ROLES),
        region_options=[(r.code, f"{r.code} {r.name}") for r in regions],
        department_options=[("", _("（无）"))] + [(d.code, d.name) for d in own_units],
        failed=failed,
    )
    return page, status


@bp.route("/users", methods=["POST"])
@requires("users.manage")
def create_user():
    """Create a user inside the admin's subtree."""
    form = request.form
    region, role = form.get("region", ""), form.get("role", "")
    unit = form.get("department", "").strip() or None
    if role == "department_staff" and unit:
        # Staff belong to their unit's region: the page takes it from the unit chosen.
        region = units.region_code_of(unit) or region
    if not current_scope().contains(region):
        flash(_("只能在本辖区内创建用户"), "error")
        return redirect(url_for("admin.users"))
    try:
        user = accounts.create_user(
            form.get("username", "").strip(),
            form.get("password", ""),
            role,
            region,
            form.get("display_name", "").strip() or None,
            form.get("phone", "").strip() or None,
            forms.split_list(form.get("grid_cells", "")),
            department_code=unit,
        )
    except DomainError as exc:
        lead = lambda reason: _("未能创建用户：%(reason)s", reason=reason)  # noqa: E731
        return render_users(422, account_refused("create-user", lead, exc))
    flash(_("已创建用户 %(name)s", name=user.username), "success")
    return redirect(url_for("admin.user_page", user_id=user.id))


def render_user(user: User, status: int = 200, failed: Failure = NO_FAILURE):
    """One user's page: details, tokens, the forms (`failed` re-opened as typed)."""
    tokens = db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    ).all()
    page = render_template("admin/user.html", user=user, tokens=tokens, failed=failed)
    return page, status


@bp.route("/users/<int:user_id>")
@requires("users.read")
def user_page(user_id: int):
    """One user: details, tokens, and the actions on them."""
    return render_user(accounts.scoped_user(user_id))


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@requires("users.manage")
def deactivate_user(user_id: int):
    """Deactivate a user: their sessions end and tokens are revoked."""
    user = accounts.scoped_user(user_id)
    if user.id == current_user.id:
        flash(_("不能停用自己的账号"), "error")
        return redirect(url_for("admin.user_page", user_id=user_id))
    try:
        accounts.deactivate(user)
    except DomainError as exc:
        flash(exc.message, "error")
        return redirect(url_for("admin.user_page", user_id=user_id))
    flash(_("已停用 %(name)s：其登录与令牌均已失效", name=user.username), "success")
    return redirect(url_for("admin.user_page", user_id=user_id))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@requires("users.manage")
def reset_password(user_id: int):
    """Set a user's password; their sessions end."""
    user = accounts.scoped_user(user_id)
    try:
        accounts.reset_password(user, request.form.get("new_password", ""))
    except DomainError as exc:
        lead = lambda reason: _("未能重置密码：%(reason)s", reason=reason)  # noqa: E731
        failed = account_refused("password", lead, exc, {"password": "new_password"})
        return render_user(user, 422, failed)
    flash(_("已重置 %(name)s 的密码，其登录已失效", name=user.username), "success")
    return redirect(url_for("admin.user_page", user_id=user_id))


@bp.route("/users/<int:user_id>/tokens/<int:token_id>/revoke", methods=["POST"])
@requires("users.manage")
def revoke_token(user_id: int, token_id: int):
    """Revoke one of a user's tokens."""
    user = accounts.scoped_user(user_id)
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(_("令牌不存在"))
    accounts.revoke_token(token, current_user)
    flash(_("已吊销令牌 %(name)s", name=token.name), "success")
    return redirect(url_for("admin.user_page", user_id=user_id))


# --- departments and the routing table ----------------------------------------------------------


def department_field_names() -> dict[str, str]:
    """Display names of a unit's form fields."""
    return {
        "code": _("部门代码"),
        "name": _("名称"),
        "kind": _("类型"),
        "region": _("所在区划"),
        "categories": _("职责类别"),
        "phone": _("电话"),
        "active": _("启用"),
    }


def department_form(form, fields: tuple[str, ...]) -> dict:
    """A unit's fields as typed, in the API's body shape (an empty phone is no phone)."""
    typed = {
        "code": form.get("code", "").strip(),
        "name": form.get("name", "").strip(),
        "kind": form.get("kind", ""),
        "region": form.get("region", ""),
        "categories": form.getlist("categories"),
        "phone": form.get("phone", "").strip() or None,
        "active": form.get("active") == "true",
    }
    return {key: typed[key] for key in fields}


def render_departments(status: int = 200, failed: Failure = NO_FAILURE):
    """The units the admin may read (theirs editable), and the form to add one."""
    scope = current_scope()
    rows = units.departments_in_scope(scope)
    page = render_template(
        "admin/departments.html",
        departments=rows,
        kind_options=labels.choices("department_kind", DEPARTMENT_KINDS),
        region_options=[(r.code, f"{r.code} {r.name}") for r in units.unit_regions(scope)],
        categories=CASE_CATEGORIES,
        failed=failed,
    )
    return page, status


@bp.route("/departments")
@requires("departments.manage")
def departments():
    """Units (职能部门) of the admin's jurisdiction and above it; add one."""
    return render_departments()


@bp.route("/departments", methods=["POST"])
@requires("departments.manage")
def create_department():
    """Add a unit at a town or the county (as POST /api/v1/departments does)."""
    fields = ("code", "name", "kind", "region", "categories", "phone")
    typed = {k: v for k, v in department_form(request.form, fields).items() if v is not None}
    lead = lambda reason: _("未能新增部门：%(reason)s", reason=reason)  # noqa: E731
    names = department_field_names()
    try:
        data = department_schemas.DepartmentIn().load(typed)
        department = units.create_department(data, current_scope(), current_user)
    except ValidationError as exc:
        return render_departments(422, Failure.of("create", lead, names, errors=exc.messages))
    except DomainError as exc:
        status, message, errors = refusal(exc)
        failed = Failure.of("create", lead, names, errors=errors, message=message)
        return render_departments(status, failed)
    flash(_("已新增部门“%(name)s”", name=department.name), "success")
    return redirect(url_for("admin.department_page", department_id=department.id))


def render_department(department: Department, status: int = 200, failed: Failure = NO_FAILURE):
    """One unit: its facts, staff and routing rules, and (in the admin's subtree) its form."""
    scope = current_scope()
    staff = db.session.scalars(
        select(User).where(User.department_id == department.id).order_by(User.username)
    ).all()
    page = render_template(
        "admin/department.html",
        department=department,
        editable=scope.contains(department.region_code),
        staff=staff,
        rules=[r for r in units.rules_in_scope(scope) if r.department_id == department.id],
        kind_options=labels.choices("department_kind", DEPARTMENT_KINDS),
        categories=CASE_CATEGORIES,
        failed=failed,
    )
    return page, status


@bp.route("/departments/<int:department_id>")
@requires("departments.manage")
def department_page(department_id: int):
    """One unit, and the form to change or deactivate it."""
    return render_department(units.visible_department(department_id, current_scope()))


@bp.route("/departments/<int:department_id>", methods=["POST"])
@requires("departments.manage")
def update_department(department_id: int):
    """Change or (de)activate a unit (as PATCH /api/v1/departments/<id> does), with the version
    the page showed."""
    scope = current_scope()
    department = units.manageable(units.visible_department(department_id, scope), scope)
    typed = department_form(request.form, ("name", "kind", "categories", "phone", "active"))
    changes = {key: value for key, value in typed.items() if value != getattr(department, key)}
    if "categories" in changes and set(changes["categories"]) == set(department.categories):
        del changes["categories"]
    if not changes:
        flash(_("部门“%(name)s”没有改动", name=department.name), "info")
        return redirect(url_for("admin.department_page", department_id=department_id))
    lead = lambda reason: _("未能保存：%(reason)s", reason=reason)  # noqa: E731
    names = department_field_names()
    try:
        data = department_schemas.DepartmentUpdate().load(changes)
        units.check_version(department, forms.shown_version(request.form))
        units.update_department(department, data, current_user)
    except ValidationError as exc:
        return render_department(
            department, 422, Failure.of("edit", lead, names, errors=exc.messages)
        )
    except DomainError as exc:
        status, message, errors = refusal(exc)
        stale = "version" in (exc.errors or {})
        failed = Failure.of("edit", lead, names, errors=errors, message=message, stale=stale)
        return render_department(department, status, failed)
    if set(changes) == {"active"}:
        flash(
            _("已启用部门“%(name)s”", name=department.name)
            if department.active
            else _(
                "已停用部门“%(name)s”：不能再向它分拨，它的分拨规则已删除", name=department.name
            ),
            "success",
        )
    else:
        flash(_("已保存部门“%(name)s”", name=department.name), "success")
    return redirect(url_for("admin.department_page", department_id=department_id))


def render_routing(region_code: str | None, status: int = 200, failed: Failure = NO_FAILURE):
    """One town's or the county's routing table: per category, its unit (of that region and
    competent for it), editable."""
    scope = current_scope()
    regions = units.unit_regions(scope)
    region = next((r for r in regions if r.code == region_code), regions[0] if regions else None)
    rules, choices = {}, {}
    if region is not None:
        rules = {r.category: r.department.code for r in units.rules_in_scope(scope, region.code)}
        local = units.departments_in_scope(scope, region=region.code, active=True)
        choices = {
            category: [("", _("（无）"))]
            + [(d.code, d.name) for d in local if category in d.categories]
            for category in CASE_CATEGORIES
        }
    page = render_template(
        "admin/routing.html",
        region=region,
        region_options=[(r.code, f"{r.code} {r.name}") for r in regions],
        categories=list(enumerate(CASE_CATEGORIES)),
        rules=rules,
        choices=choices,
        failed=failed,
    )
    return page, status


@bp.route("/routing")
@requires("departments.manage")
def routing():
    """The routing table (分拨规则) of a town or the county of the admin's jurisdiction."""
    return render_routing(request.args.get("region"))


@bp.route("/routing", methods=["POST"])
@requires("departments.manage")
def update_routing():
    """Replace a region's routing table (as PUT /api/v1/routing-rules does)."""
    form = request.form
    region = form.get("region", "")
    chosen = [
        (index, category, form.get(f"rule-{index}", "").strip())
        for index, category in enumerate(CASE_CATEGORIES)
    ]
    chosen = [(index, category, code) for index, category, code in chosen if code]
    rules = [{"category": category, "department": code} for _index, category, code in chosen]
    try:
        units.replace_rules(region, rules, current_scope(), current_user)
    except DomainError as exc:
        status, message, errors = refusal(exc)
        # The service names a rule by its place in the list; the page, by its category's row.
        by_line = errors.pop("rules", {}) if isinstance(errors.get("rules"), dict) else {}
        for line, problems in by_line.items():
            index = chosen[int(line)][0]
            errors[f"rule-{index}"] = [m for texts in problems.values() for m in texts]
        names = {f"rule-{i}": labels.label("category", c) for i, c in enumerate(CASE_CATEGORIES)}
        names["region"] = _("区划")
        lead = lambda reason: _("未能保存分拨规则：%(reason)s", reason=reason)  # noqa: E731
        failed = Failure.of(
            "routing", lead, names, errors=errors, message="" if errors else message
        )
        return render_routing(region, status, failed)
    flash(_("已保存分拨规则"), "success")
    return redirect(url_for("admin.routing", region=region))


# --- the deadline policy -------------------------------------------------------------------------


def render_deadlines(status: int = 200, failed: Failure = NO_FAILURE):
    """Every clock of the deadline policy, each editable (`failed` as typed, with messages)."""
    return (
        render_template("admin/deadlines.html", policies=policy.all_rules(), failed=failed),
        status,
    )


@bp.route("/deadlines")
@requires("deadlines.manage")
def deadlines():
    """Every clock of the deadline policy, each editable."""
    return render_deadlines()


@bp.route("/deadlines/<int:policy_id>", methods=["POST"])
@requires("deadlines.manage")
def update_deadline(policy_id: int):
    """Change a clock's length or unit (as PUT /api/v1/deadline-policies/<id> does)."""
    row = db.session.get(DeadlinePolicy, policy_id)
    if row is None:
        raise NotFound(_("期限规则不存在"))
    try:
        data = case_schemas.DeadlinePolicyIn().load(
            {
                "days": forms.form_int(request.form.get("days", "")),
                "unit": request.form.get("unit", "days"),
            }
        )
    except ValidationError as exc:
        clock_name = labels.label("clock", row.clock)
        return render_deadlines(
            422,
            Failure.of(
                f"policy-{row.id}",
                lambda reason: _(
                    "未能修改“%(clock)s”：%(reason)s", clock=clock_name, reason=reason
                ),
                {"days": _("天数"), "unit": _("单位")},
                errors=exc.messages,
            ),
        )
    policy.update(policy_id, data)
    flash(_("已修改期限规则：之后开始的期限按新规则计算"), "success")
    return redirect(url_for("admin.deadlines"))


# --- regions and grid cells ----------------------------------------------------------------------


def grid_field_names() -> dict[str, str]:
    """Display names of the make-grid form's fields."""
    return {"village": _("村"), "shape": _("形状"), "cell_size": _("边长（米）")}


UNBOUNDED_SHOWN = 200


def render_regions(status: int = 200, failed: Failure = NO_FAILURE):
    """Regions and grid cells on a map, the import form and the make-grid form."""
    villages = db.session.scalars(
        select(Region)
        .where(
            current_scope().clause(Region.code),
            Region.level == "village",
            Region.valid_to.is_(None),
            Region.boundary.is_not(None),  # a grid needs the village's boundary
        )
        .order_by(Region.code)
    ).all()
    m = regions_map(tiles(), _("区划与网格"))
    # Regions from the code list whose boundary is not imported yet (边界未导入).
    unbounded = db.session.execute(
        select(Region.code, Region.name, Region.level)
        .where(
            current_scope().clause(Region.code),
            Region.boundary.is_(None),
            Region.valid_to.is_(None),
        )
        .order_by(Region.code)
        .limit(UNBOUNDED_SHOWN + 1)
    ).all()
    page = render_template(
        "admin/regions.html",
        map=map_parts(m),
        unbounded=unbounded[:UNBOUNDED_SHOWN],
        unbounded_more=len(unbounded) > UNBOUNDED_SHOWN,
        village_options=[(v.code, f"{v.code} {v.name}") for v in villages],
        levels=geo.IMPORT_LEVELS,
        failed=failed,
    )
    return page, status


@bp.route("/regions")
@requires("geo.manage")
def regions():
    """Regions and grid cells on a map; import GeoJSON; generate a village's grid."""
    return render_regions()


@bp.route("/regions/import", methods=["POST"])
@requires("geo.manage")
def import_regions():
    """Import a GeoJSON FeatureCollection, checked exactly as `flask geo import` checks it.

    A refused file is answered by a message per problem on the page it came from (the file
    cannot come back in its input); nothing was written.
    """
    file = request.files.get("file")
    level = request.form.get("level", "")
    crs = request.form.get("crs", "wgs84")
    if file is None or level not in geo.IMPORT_LEVELS or crs not in ("wgs84", "gcj02", "bd09"):
        flash(_("请选择文件、层级与坐标系"), "error")
        return redirect(url_for("admin.regions"))
    try:
        collection = json.load(file.stream)
    except (UnicodeDecodeError, json.JSONDecodeError):
        flash(_("导入失败：文件不是有效的 JSON"), "error")
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
        # The command line's problems (app/geo/cli.py), every one.
        flash(_("导入失败，未写入任何数据；共 %(n)s 个问题：", n=len(exc.problems)), "error")
        for problem in exc.problems[:100]:
            flash(f"- {problem}", "error")
        return redirect(url_for("admin.regions"))
    audit.record("geo.import", object_type="regions", detail={"level": level, "crs": crs})
    flash(
        _(
            "导入完成（%(level)s）：新增 %(inserted)s，更新 %(updated)s，未变 %(unchanged)s",
            level=labels.label("region_level", "grid_cell" if level == "grid" else level),
            inserted=result.inserted,
            updated=result.updated,
            unchanged=result.unchanged,
        ),
        "success",
    )
    return redirect(url_for("admin.regions"))


@bp.route("/regions/make-grid", methods=["POST"])
@requires("geo.manage")
def make_grid():
    """Generate grid cells for a village, as `flask geo make-grid` does."""
    code = request.form.get("village", "")
    if not current_scope().contains(code):
        flash(_("请选择本辖区内的村和网格形状"), "error")
        return redirect(url_for("admin.regions"))
    lead = lambda reason: _("未能生成网格：%(reason)s", reason=reason)  # noqa: E731
    shape, size = request.form.get("shape", ""), request.form.get("cell_size", "").strip()
    errors = {}
    if shape not in ("square", "hex"):
        errors["shape"] = [_("请选择网格形状")]
    try:
        cell_size = float(size)
    except ValueError:
        errors["cell_size"] = [_("网格边长应为数字（米）")]
    if errors:
        return render_regions(422, Failure.of("grid", lead, grid_field_names(), errors=errors))
    try:
        result = geo.make_grid(code, shape, cell_size)
    except geo.GridError as exc:
        text = str(exc)
        errors = {"cell_size": [text]} if "cell-size" in text else {}
        failed = Failure.of(
            "grid", lead, grid_field_names(), errors=errors, message="" if errors else text
        )
        return render_regions(422, failed)
    audit.record("geo.make_grid", object_type="region", object_id=code, region_code=code)
    flash(
        _(
            "村 %(village)s：生成 %(cells)s 个网格，合并碎片 %(merged)s 个，"
            "替换原有网格 %(replaced)s 个",
            village=result.village_code,
            cells=result.cells,
            merged=result.merged_slivers,
            replaced=result.replaced,
        ),
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
        "active": _("启用"),
    }


def render_categories(status: int = 200, failed: Failure = NO_FAILURE):
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
            failed=failed,
        ),
        status,
    )


def refused(form: str, lead, names: dict, status: int, *, errors=None, message="", stale=False):
    """Say why nothing was saved, and show the page again (the form re-opened unless stale)."""
    failed = Failure.of(form, lead, names, errors=errors, message=message, stale=stale)
    return render_categories(status, failed)


def schedule_field_names() -> dict[str, str]:
    """The schedule form's fields: one per level, by the level's name."""
    return {level: labels.label("risk_level", level) for level in LEVELS}


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
    lead = lambda reason: _("未能新增风险类别：%(reason)s", reason=reason)  # noqa: E731
    try:
        data = risk_schemas.CategoryIn().load(
            {
                "name": form.get("name", "").strip(),
                "subcategories": forms.split_list(form.get("subcategories", "")),
                "restricted": form.get("restricted") == "true",
            }
        )
        category = risks.create_category(data, current_user)
    except ValidationError as exc:
        return refused("create", lead, category_field_names(), 422, errors=exc.messages)
    except DomainError as exc:
        status, message, errors = refusal(exc)
        names = category_field_names()
        return refused("create", lead, names, status, errors=errors, message=message)
    flash(_("已新增风险类别“%(name)s”", name=category.name), "success")
    return redirect(url_for("admin.categories"))


@bp.route("/categories/<int:category_id>", methods=["POST"])
@requires("risks.manage")
def update_category(category_id: int):
    """Rename a risk category, change its sub-categories, (de)activate it (as PUT
    /api/v1/risk-categories/<id> does), with the version the page showed."""

    category = db.session.get(RiskCategory, category_id)
    if category is None:
        raise NotFound(_("风险类别不存在"))
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
    lead = lambda reason: _("未能保存：%(reason)s", reason=reason)  # noqa: E731
    names = category_field_names()
    try:
        data = risk_schemas.CategoryUpdate().load(changes)
        risk_actions.check_version(
            category, forms.shown_version(form), message=risk_actions.CATEGORY_STALE
        )
        risks.update_category(category, data, current_user)
    except ValidationError as exc:
        return refused(shown, lead, names, 422, errors=exc.messages)
    except DomainError as exc:
        status, message, errors = refusal(exc)
        stale = "version" in (exc.errors or {})
        return refused(shown, lead, names, status, errors=errors, message=message, stale=stale)
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
    names = schedule_field_names()
    changes = {}
    for level in LEVELS:
        typed, was = form.get(level, "").strip(), form.get(f"was_{level}", "").strip()
        if typed == was:
            continue
        if was != str(current[level]):
            return refused(
                "schedule",
                None,
                names,
                409,
                message=_("排查周期已被他人修改，您的修改没有保存：请核对后重新填写"),
                stale=True,
            )
        changes[level] = forms.form_int(typed)
    if not changes:
        flash(_("排查周期没有改动"), "info")
        return redirect(url_for("admin.categories"))
    try:
        data = risk_schemas.ScheduleIn().load(changes)
    except ValidationError as exc:
        lead = lambda reason: _("未能保存排查周期：%(reason)s", reason=reason)  # noqa: E731
        return refused("schedule", lead, names, 422, errors=exc.messages)
    risks.update_schedule(data, current_user)
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
