"""The read side of dispatches: a case's dispatches as the caller sees them, the routing
suggestion, the units a centre may send to. The case itself is loaded in scope first
(app/cases/queries.py): whoever sees the case sees its dispatches and their files."""

from __future__ import annotations

from sqlalchemy import bindparam
from sqlalchemy import literal
from sqlalchemy import select
from sqlalchemy import union_all
from sqlalchemy.orm import joinedload

from app.accounts.models import User
from app.attachments import services as attachments
from app.cases import queries as case_queries
from app.cases import workflow
from app.cases.models import Case
from app.core.errors import NotFound
from app.dispatch.models import OPEN_DISPATCH_STATES
from app.dispatch.models import Department
from app.dispatch.models import Dispatch
from app.dispatch.models import RoutingRule
from app.extensions import db
from app.scoping import scope_for


def dispatch_visible(dispatch_id: int, user) -> bool:
    """Whether a user may see a dispatch (and so its report's files): they see its case."""
    case_id = db.session.scalar(select(Dispatch.case_id).where(Dispatch.id == dispatch_id))
    return case_id is not None and case_queries.case_visible(case_id, user)


attachments.register_owner("dispatch", dispatch_visible)


# A case's dispatches with what the listing shows of each, in one statement (they were a query
# each); built once, like SUGGESTION below (building it cost more than running it).
OF_CASE = (
    select(Dispatch)
    .where(Dispatch.case_id == bindparam("case_id"))
    .order_by(Dispatch.id)
    .options(
        joinedload(Dispatch.department),
        joinedload(Dispatch.dispatched_by),
        joinedload(Dispatch.handler),
    )
)


def of_case(case: Case) -> list[Dispatch]:
    """A case's dispatches, by round and then as they were made (the lead first)."""
    return list(db.session.scalars(OF_CASE, {"case_id": case.id}))


def dispatch_of(case: Case, dispatch_id: int) -> Dispatch:
    """One dispatch of the case; 404 for another case's (or none)."""
    dispatch = db.session.get(Dispatch, dispatch_id)
    if dispatch is None or dispatch.case_id != case.id:
        raise NotFound("分拨记录不存在")
    return dispatch


def centre_region_id(case: Case) -> int | None:
    """The region of the centre the case is at (its town or county); villages have none."""
    return {"town": case.town_id, "county": case.county_id}.get(case.level)


def suggestion_params(case: Case) -> dict | None:
    """SUGGESTION's parameters for the case, or None when it is at no centre."""
    region_id = centre_region_id(case)
    if region_id is None:
        return None
    return {"region_id": region_id, "category": case.category, "categories": [case.category]}


def suggestion(case: Case) -> dict | None:
    """The unit the data suggests: the centre's routing rule for the category, else an active
    unit of the centre's region competent for it (the centre confirms or overrides)."""
    params = suggestion_params(case)
    if params is None:
        return None
    return suggested(db.session.execute(SUGGESTION, params).first())


def _suggestion_statement():
    """The rule's unit, else the first competent one: one statement, the rule's row first."""
    region_id, category = bindparam("region_id"), bindparam("category")
    categories = bindparam("categories", type_=Department.__table__.c.categories.type)
    ruled = (
        select(Department.id, literal(0).label("pick"))
        .join(RoutingRule, RoutingRule.department_id == Department.id)
        .where(
            RoutingRule.region_id == region_id,
            RoutingRule.category == category,
            Department.active.is_(True),
        )
    )
    competent = (
        select(Department.id, literal(1).label("pick"))
        .where(
            Department.region_id == region_id,
            Department.active.is_(True),
            Department.categories.contains(categories),
        )
        .order_by(Department.id)
        .limit(1)
    )
    picks = union_all(ruled.limit(1), competent).subquery()
    return (
        select(Department.id, Department.code, Department.name, picks.c.pick)
        .join(picks, picks.c.id == Department.id)
        .order_by(picks.c.pick)
        .limit(1)
    )


SUGGESTION = _suggestion_statement()


def suggested(row) -> dict | None:
    """The suggestion of SUGGESTION's row (id, code, name, pick), or None for no row."""
    if row is None:
        return None
    unit_id, code, name, pick = row
    return {
        "id": unit_id,
        "code": code,
        "name": name,
        "source": "rule" if pick == 0 else "category",
    }


def units_for(user) -> list[Department]:
    """The active units a centre user may dispatch to: those in their jurisdiction."""
    scope = scope_for(user)
    return list(
        db.session.scalars(
            select(Department)
            .where(
                Department.active.is_(True),
                Department.region_code.startswith(scope.prefix, autoescape=True),
            )
            .order_by(Department.region_code, Department.name)
        )
    )


def staff_of(department_id: int) -> list[User]:
    """A unit's active staff (who may be named its handler)."""
    return list(
        db.session.scalars(
            select(User)
            .where(User.department_id == department_id, User.active.is_(True))
            .order_by(User.display_name, User.id)
        )
    )


def can_dispatch(case: Case, user, items: list[Dispatch] | None = None) -> bool:
    """Whether the user may make a new dispatch of the case now (the workflow's `dispatch`).

    `items`: the case's dispatches when already loaded (whether a lead one is open is then
    read from them, as `workflow.has_open_lead_dispatch` asks the database).
    """
    r = workflow.rule("dispatch")
    if not (
        case.level in workflow.DISPATCH_LEVELS
        and workflow.permits(r, case, user)
        and workflow.state_ok(r, case)
    ):
        return False
    if items is None:
        return not workflow.has_open_lead_dispatch(case.id)
    return not any(d.role == "lead" and d.state in OPEN_DISPATCH_STATES for d in items)


def listing(case: Case, user, staff: bool = True) -> dict:
    """The case's dispatches as `user` sees them: clocks, warnings, allowed steps, files.

    `staff`: with each dispatch's `staff_choices` (the page's handler choice; the API shows none).
    """
    items = of_case(case)
    files = attachments.for_owners("dispatch", [d.id for d in items])
    answer = assemble(case, user, items, files, suggestion(case))
    for d in items:
        d.staff_choices = (
            [(str(u.id), u.display_name) for u in staff_of(d.department_id)]
            if staff and "assign_handler" in d.allowed_actions
            else []
        )
    return answer


def assemble(case, user, items: list, files: dict, suggestion_: dict | None) -> dict:
    """The listing from its parts, read by `listing` or by the API's fast path (app/dispatch/
    fast.py): the case, its dispatches (by id), their files by dispatch id, the suggestion."""
    for d in items:
        d.case_number = case.number
        d.allowed_actions = workflow.dispatch_allowed(d, user)
        d.attachments = files.get(d.id, [])
    return {
        "case_number": case.number,
        "case_version": case.version,
        "case_state": case.state,
        "can_dispatch": can_dispatch(case, user, items),
        "report_due_default": case.resolve_due,
        "suggestion": suggestion_,
        "items": items,
    }
