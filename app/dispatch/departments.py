"""Departments (职能部门) and routing rules (分拨规则): reads in the caller's scope, admins' writes.

Who sees a unit (docs/departments.md): everyone sees the units of their own region subtree and
of the regions above them (a village's mediator sees the town's 派出所 and the county's 公安局);
department staff see their own unit only. Admins keep the units and rules of their subtree.
Services flush; the request boundary (or a command) commits.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select

from app.audit import services as audit
from app.core import clock
from app.core.errors import Conflict
from app.core.errors import Invalid
from app.core.errors import NotFound
from app.core.errors import PreconditionRequired
from app.core.errors import stale
from app.dispatch.department_schemas import CASE_CATEGORIES
from app.dispatch.models import OPEN_DISPATCH_STATES
from app.dispatch.models import Department
from app.dispatch.models import Dispatch
from app.dispatch.models import RoutingRule
from app.extensions import db
from app.geo.models import Region
from app.policy import deny
from app.scoping import SIGNIFICANT_DIGITS
from app.scoping import Scope

# Units sit at a town (乡镇) or the county (县), where the 综治中心 that dispatches to them is.
UNIT_LEVELS = ("town", "county")


def invalid(message: str, field: str) -> Invalid:
    """The 422 for one field's value."""
    return Invalid(message, errors={"json": {field: [message]}})


# --- reads ---------------------------------------------------------------------------------------


def ancestor_codes(scope: Scope) -> list[str]:
    """The codes of the town and county above the scope's region (units that serve it)."""
    prefix = scope.prefix
    if not prefix.isdigit():
        return []
    return [
        prefix[:digits].ljust(12, "0")
        for digits in (SIGNIFICANT_DIGITS["county"], SIGNIFICANT_DIGITS["town"])
        if digits < len(prefix)
    ]


def visible(scope: Scope):
    """The condition on Department for what a scope may read."""
    if scope.department_id is not None:
        return Department.id == scope.department_id
    return or_(
        scope.clause(Department.region_code), Department.region_code.in_(ancestor_codes(scope))
    )


def can_read(department: Department, scope: Scope) -> bool:
    """The same rule as `visible`, for one unit already loaded."""
    if scope.department_id is not None:
        return department.id == scope.department_id
    code = department.region_code
    return scope.contains(code) or code in ancestor_codes(scope)


def departments_in_scope(
    scope: Scope,
    region: str | None = None,
    kind: str | None = None,
    category: str | None = None,
    active: bool | None = None,
) -> list[Department]:
    """The units the scope may read, county first then by region and code, with filters."""
    stmt = select(Department).where(visible(scope))
    if region:
        stmt = stmt.where(Department.region_code == region)
    if kind:
        stmt = stmt.where(Department.kind == kind)
    if category:
        stmt = stmt.where(Department.categories.contains([category]))
    if active is not None:
        stmt = stmt.where(Department.active.is_(active))
    return list(db.session.scalars(stmt.order_by(Department.region_code, Department.code)))


def visible_department(department_id: int, scope: Scope) -> Department:
    """A unit the scope may read, else 404 (audited as a denial when it exists elsewhere)."""
    department = db.session.get(Department, department_id)
    if department is None:
        raise NotFound(_("职能部门不存在"))
    if not can_read(department, scope):
        deny(
            "departments.read", "department", department_id, status=404, message=_("职能部门不存在")
        )
    return department


def manageable(department: Department, scope: Scope) -> Department:
    """A unit the caller may read is theirs to keep only inside their own subtree (403)."""
    if not scope.contains(department.region_code):
        deny("departments.manage", "department", department.id)
    return department


def unit_regions(scope: Scope) -> list[Region]:
    """The current towns and county of a scope's subtree: where its admin may place units."""
    return list(
        db.session.scalars(
            select(Region)
            .where(
                scope.clause(Region.code),
                Region.level.in_(UNIT_LEVELS),
                Region.valid_to.is_(None),
            )
            .order_by(Region.code)
        )
    )


def region_code_of(code: str) -> str | None:
    """The region code of the unit with this code, if there is one."""
    return db.session.scalar(select(Department.region_code).where(Department.code == code))


def code_taken(code: str) -> bool:
    """Whether a unit already has this code."""
    return db.session.scalar(select(Department.id).where(Department.code == code)) is not None


# --- writes --------------------------------------------------------------------------------------


def unit_region(code: str, scope: Scope) -> Region:
    """The town or county a unit is placed in: current, in the admin's subtree (else 422)."""
    region = db.session.scalar(select(Region).where(Region.code == code))
    if region is None:
        raise invalid(_("区划 %(code)s 不存在", code=code), "region")
    if not scope.contains(code):
        raise invalid(_("只能在本辖区内设置职能部门"), "region")
    if region.abolished:
        raise invalid(_("区划 %(code)s 已撤销", code=code), "region")
    if region.level not in UNIT_LEVELS:
        raise invalid(_("职能部门应设在乡镇（街道）或县"), "region")
    return region


def check_categories(categories: list[str]) -> list[str]:
    """Known case categories, each once, in the categories' own order (else 422)."""
    unknown = [c for c in categories if c not in CASE_CATEGORIES]
    if unknown:
        raise invalid(
            _("类别应为以下之一：%(values)s", values=", ".join(CASE_CATEGORIES)), "categories"
        )
    return [c for c in CASE_CATEGORIES if c in categories]


def create_department(data: dict, scope: Scope, user=None) -> Department:
    """A new unit (data as DepartmentIn loads it) in a town or county of the admin's subtree."""
    region = unit_region(data["region"], scope)
    if code_taken(data["code"]):
        raise invalid(_("部门代码 %(code)s 已存在", code=data["code"]), "code")
    department = Department(
        code=data["code"],
        name=data["name"].strip(),
        kind=data["kind"],
        region=region,
        region_code=region.code,
        categories=check_categories(data.get("categories") or []),
        phone=data.get("phone"),
        active=data.get("active", True),
    )
    db.session.add(department)
    db.session.flush()
    audit.record(
        "departments.create",
        actor=user,
        object_type="department",
        object_id=department.id,
        region_code=region.code,
        detail={"code": department.code, "name": department.name, "kind": department.kind},
    )
    return department


def check_version(department: Department, version: int | None) -> None:
    """428 without the version the caller saw; 409 when someone changed the unit since."""
    if version is None:
        raise PreconditionRequired(_("缺少版本号：请在 If-Match 头或 version 字段中给出版本"))
    if version != department.version:
        raise stale(version, department.version, _("该部门已被他人修改，您的修改没有保存"))


def update_department(department: Department, data: dict, user=None) -> Department:
    """Rename, re-kind, change the categories or phone, (de)activate a unit (DepartmentUpdate).

    The version the caller saw is checked before; its code and region never change (staff
    belong to its region). Deactivating a unit with open dispatches is refused (409); its
    routing rules are removed (a rule always names an active unit). Categories it is no longer
    competent for lose their rules pointing to it.
    """
    if "categories" in data:
        data["categories"] = check_categories(data["categories"])
    if "name" in data:
        data["name"] = data["name"].strip()
    changes = {k: v for k, v in data.items() if getattr(department, k) != v}
    if changes.get("active") is False:
        open_count = db.session.scalar(
            select(func.count())
            .select_from(Dispatch)
            .where(
                Dispatch.department_id == department.id,
                Dispatch.state.in_(OPEN_DISPATCH_STATES),
            )
        )
        if open_count:
            message = _("该部门尚有 %(n)s 件未办结的分拨，不能停用", n=open_count)
            raise Conflict(message, errors={"json": {"active": [message]}})
    before = {k: getattr(department, k) for k in changes}
    for key, value in changes.items():
        setattr(department, key, value)
    if changes:
        department.updated_at = clock.now()
    dropped = drop_rules(department)
    db.session.flush()
    audit.record(
        "departments.update",
        actor=user,
        object_type="department",
        object_id=department.id,
        region_code=department.region_code,
        detail={"before": before, "after": changes, "rules_removed": dropped},
    )
    return department


def drop_rules(department: Department) -> list[str]:
    """Remove the unit's rules it can no longer carry (inactive, or no longer competent)."""
    stmt = delete(RoutingRule).where(RoutingRule.department_id == department.id)
    if department.active:
        stmt = stmt.where(RoutingRule.category.not_in(department.categories or [""]))
    return list(db.session.scalars(stmt.returning(RoutingRule.category)))


# --- routing rules -------------------------------------------------------------------------------


def rules_in_scope(scope: Scope, region: str | None = None, category: str | None = None):
    """The routing rules of the regions whose units the scope may read, by region and category
    order; department staff see none (routing is the centre's business)."""
    if scope.department_id is not None:
        return []
    stmt = (
        select(RoutingRule)
        .join(RoutingRule.region)
        .where(or_(scope.clause(Region.code), Region.code.in_(ancestor_codes(scope))))
    )
    if region:
        stmt = stmt.where(Region.code == region)
    if category:
        stmt = stmt.where(RoutingRule.category == category)
    order = {c: i for i, c in enumerate(CASE_CATEGORIES)}
    rules = list(db.session.scalars(stmt))
    return sorted(rules, key=lambda r: (r.region.code, order.get(r.category, len(order))))


def replace_rules(region_code: str, rules: list[dict], scope: Scope, user=None):
    """Replace one town's or the county's routing table: each category → one active unit of
    that region competent for it (categories not listed have no rule). Answers the new table."""
    region = unit_region(region_code, scope)
    seen: set[str] = set()
    wanted: dict[str, Department] = {}
    errors: dict = {}
    for index, rule in enumerate(rules):
        category = rule["category"]
        problem, field = None, "category"
        department = db.session.scalar(
            select(Department).where(Department.code == rule["department"])
        )
        if category not in CASE_CATEGORIES:
            problem = _("类别应为以下之一：%(values)s", values=", ".join(CASE_CATEGORIES))
        elif category in seen:
            problem = _("类别 %(category)s 重复", category=category)
        elif department is None or not department.active:
            problem, field = (
                _("职能部门 %(code)s 不存在或已停用", code=rule["department"]),
                "department",
            )
        elif department.region_id != region.id:
            problem, field = (
                _("分拨规则只能指向本区划（%(name)s）的部门", name=region.name),
                "department",
            )
        elif category not in department.categories:
            problem, field = (
                _(
                    "%(name)s 不负责“%(category)s”：请先在部门的职责类别中加上它",
                    name=department.name,
                    category=category,
                ),
                "department",
            )
        seen.add(category)
        if problem:
            errors.setdefault(str(index), {})[field] = [problem]
        else:
            wanted[category] = department
    if errors:
        raise Invalid(_("分拨规则有误，未保存"), errors={"json": {"rules": errors}})
    existing = {
        r.category: r
        for r in db.session.scalars(select(RoutingRule).where(RoutingRule.region_id == region.id))
    }
    before = {c: r.department.code for c, r in existing.items()}
    for category, rule in existing.items():
        if category not in wanted:
            db.session.delete(rule)
    for category, department in wanted.items():
        rule = existing.get(category)
        if rule is None:
            db.session.add(RoutingRule(region=region, category=category, department=department))
        else:
            rule.department = department
    db.session.flush()
    after = {c: d.code for c, d in wanted.items()}
    if before != after:
        audit.record(
            "departments.routing",
            actor=user,
            object_type="region",
            object_id=region.code,
            region_code=region.code,
            detail={"before": before, "after": after},
        )
    return rules_in_scope(scope, region=region.code)


def suggestion(region_code: str, category: str) -> Department | None:
    """The routing rule's unit for a category in a centre's region (the dispatch suggestion)."""
    return db.session.scalar(
        select(Department)
        .join(RoutingRule, RoutingRule.department_id == Department.id)
        .join(Region, Region.id == RoutingRule.region_id)
        .where(Region.code == region_code, RoutingRule.category == category, Department.active)
    )
