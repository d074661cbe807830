"""My tasks (我的待办, shared/DOMAIN.md §8): everything a user must do next, nearest deadline
first, as one SQL statement over cases, dispatches and risk points.

Each source is a select of the same columns (kind, action, key, due, warning, number, title,
link); their UNION ALL is paged by keyset like the case list (app/core/paging). `key` is unique
across sources (the row's id × 4 + the source's index), so (due, key) orders every task.
Nothing here writes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger
from sqlalchemy import Date
from sqlalchemy import String
from sqlalchemy import and_
from sqlalchemy import case as when
from sqlalchemy import cast
from sqlalchemy import func
from sqlalchemy import literal
from sqlalchemy import literal_column
from sqlalchemy import null
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import true
from sqlalchemy import union_all
from sqlalchemy.orm import aliased

from app.campaigns.models import Campaign
from app.campaigns.models import CampaignTask
from app.cases import queries as case_queries
from app.cases import workflow
from app.cases.models import Case
from app.core import clock
from app.core import paging
from app.dispatch.models import OPEN_DISPATCH_STATES
from app.dispatch.models import Dispatch
from app.extensions import db
from app.resident.selfreport_models import OPEN_STATES as OPEN_SELF_REPORTS
from app.resident.selfreport_models import SelfReport
from app.risks.models import RiskPoint
from app.scoping import scope_for

KINDS = ("case", "follow_up", "inspection", "dispatch", "campaign_task", "self_report")
# The roles that can have tasks (admins keep the system, they have none).
TASK_ROLES = frozenset(workflow.FIELD | {"department_staff"})
# The next step of an open case at its level, by state (a handler's 受理, then 办结).
NEXT_STEP = {"reported": "accept", "accepted": "resolve", "in_progress": "resolve"}
# An inspection is a task once it is due within a week (as the 排查 page lists them).
INSPECTION_HORIZON = dt.timedelta(days=7)
# What to do: the workflow's names for case actions; the dispatch steps of shared/DOMAIN.md §8.
ACTION_NAMES = {
    **{a: workflow.WORKFLOW[a].name for a in ("accept", "resolve", "follow_up")},
    "inspect": "排查",
    "sign": "签收",
    "report": "办结反馈",
    "review": "核查",
    "redispatch": "重新分拨",
    "campaign_check": "专项排查",
    "verify": "核实随手拍",
}
# No tasks of any kind: the counts' JSON object when there is nothing to count.
EMPTY = literal_column("'{}'::json")
# A campaign task turns yellow this many days before its deadline.
CAMPAIGN_WARNING_DAYS = 3


def _columns(kind: str, action, key, due, warning, number, title, link) -> list:
    """The columns every source selects, labelled alike."""
    return [
        literal(kind, String).label("kind"),
        action.label("action"),
        (cast(key, BigInteger) * len(KINDS) + KINDS.index(kind)).label("key"),
        cast(due, Date).label("due"),
        cast(warning, String).label("warning"),
        cast(number, String).label("number"),
        cast(title, String).label("title"),
        link.label("link"),
    ]


def _case_link(number):
    return literal("/cases/", String) + number


def _case_tasks(user, scope, level: str):
    """Open cases at the user's level: theirs, or nobody's and the next step is theirs."""
    steps = {s: a for s, a in NEXT_STEP.items() if _may(workflow.WORKFLOW[a], user, level)}
    if not steps:
        return None
    stmt = select(
        *_columns(
            "case",
            when(NEXT_STEP, value=Case.state),
            Case.id,
            Case.next_due,
            Case.warning,
            Case.number,
            Case.title,
            _case_link(Case.number),
        )
    ).where(
        Case.state.in_(sorted(NEXT_STEP)),
        Case.level == level,
        ~with_units(Case.id),
        or_(
            Case.handler_id == user.id,
            and_(Case.handler_id.is_(None), Case.state.in_(sorted(steps))),
        ),
    )
    return case_queries.scoped(stmt, scope)


def with_units(case_id):
    """Whether a case's matter is with the dispatch loop: its lead unit has it (sent, signed or
    reported), or returned it and nobody was sent since. It is then a dispatch task, not a
    case task."""
    lead, later = aliased(Dispatch), aliased(Dispatch)
    resent = (
        select(later.id)
        .where(later.case_id == lead.case_id, later.role == "lead", later.id > lead.id)
        .exists()
    )
    return (
        select(lead.id)
        .where(
            lead.case_id == case_id,
            lead.role == "lead",
            or_(lead.state.in_(OPEN_DISPATCH_STATES), and_(lead.state == "returned", ~resent)),
        )
        .exists()
    )


def _follow_up_tasks(user, scope, level: str):
    """Resolved cases to follow up (回访): a grid worker's in their cells; a handler's at their
    level, theirs or nobody's. No deadline: the deadline policy has no follow-up clock."""
    rule = workflow.WORKFLOW["follow_up"]
    if user.role not in rule.roles:
        return None
    stmt = select(
        *_columns(
            "follow_up",
            literal("follow_up", String),
            Case.id,
            null(),
            literal("none", String),
            Case.number,
            Case.title,
            _case_link(Case.number),
        )
    ).where(Case.state == "resolved")
    if user.role in workflow.HANDLERS:
        stmt = stmt.where(
            Case.level == level, or_(Case.handler_id == user.id, Case.handler_id.is_(None))
        )
    return case_queries.scoped(stmt, scope)


def _inspection_tasks(user, today: dt.date):
    """Active risk points the user answers for whose inspection is due within the week."""
    return select(
        *_columns(
            "inspection",
            literal("inspect", String),
            RiskPoint.id,
            RiskPoint.next_due,
            when((RiskPoint.next_due < today, "red"), else_="yellow"),
            RiskPoint.code,
            RiskPoint.name,
            literal("/risk-points/", String) + cast(RiskPoint.id, String),
        )
    ).where(
        RiskPoint.responsible_id == user.id,
        RiskPoint.status == "active",
        RiskPoint.next_due <= today + INSPECTION_HORIZON,
    )


def _unit_dispatch_tasks(user):
    """A unit's dispatches: sign for those sent (签收), report back on the lead ones signed
    (办结反馈); those whose handler is the user or nobody."""
    action = when((Dispatch.state == "sent", "sign"), else_="report")
    due = when((Dispatch.state == "sent", Dispatch.sign_due), else_=Dispatch.report_due)
    return (
        select(
            *_columns(
                "dispatch",
                action,
                Dispatch.id,
                due,
                Dispatch.warning,
                Case.number,
                Case.title,
                _case_link(Case.number),
            )
        )
        .join(Case, Case.id == Dispatch.case_id)
        .where(
            Dispatch.department_id == user.department_id,
            or_(Dispatch.handler_id == user.id, Dispatch.handler_id.is_(None)),
            or_(
                Dispatch.state == "sent",
                and_(Dispatch.state == "signed", Dispatch.role == "lead"),
            ),
        )
    )


def _centre_dispatch_tasks(user, scope, level: str):
    """The centre's dispatches at the user's level: lead reports to check (核查) and returned
    leads to send again (重新分拨, unless a later lead was sent), on cases in scope whose
    handler is the user or nobody. Due when the case is (its nearest deadline)."""
    later = aliased(Dispatch)
    resent = (
        select(later.id)
        .where(later.case_id == Dispatch.case_id, later.role == "lead", later.id > Dispatch.id)
        .exists()
    )
    stmt = (
        select(
            *_columns(
                "dispatch",
                when((Dispatch.state == "reported", "review"), else_="redispatch"),
                Dispatch.id,
                Case.next_due,
                Case.warning,
                Case.number,
                Case.title,
                _case_link(Case.number),
            )
        )
        .join(Case, Case.id == Dispatch.case_id)
        .where(
            Dispatch.centre_level == level,
            Dispatch.role == "lead",
            or_(Case.handler_id == user.id, Case.handler_id.is_(None)),
            or_(
                Dispatch.state == "reported",
                and_(Dispatch.state == "returned", ~resent),
            ),
        )
    )
    return case_queries.scoped(stmt, scope)


def _campaign_tasks(user, today: dt.date):
    """Pending tasks of active campaigns in the grid worker's cells, due on the deadline."""
    cells = [c.id for c in user.grid_cells]
    if user.role != "grid_worker" or not cells:
        return None
    soon = today + dt.timedelta(days=CAMPAIGN_WARNING_DAYS)
    return (
        select(
            *_columns(
                "campaign_task",
                literal("campaign_check", String),
                CampaignTask.id,
                Campaign.deadline,
                when(
                    (Campaign.deadline < today, "red"),
                    (Campaign.deadline <= soon, "yellow"),
                    else_="none",
                ),
                Campaign.category,
                Campaign.title,
                literal("/campaign-tasks/", String) + cast(CampaignTask.id, String),
            )
        )
        .join(Campaign, Campaign.id == CampaignTask.campaign_id)
        .where(
            CampaignTask.cell_id.in_(cells),
            CampaignTask.state == "pending",
            Campaign.state == "active",
        )
    )


def _self_report_tasks(user, scope, level: str):
    """Residents' self-reports (随手拍) to verify: a grid worker's in their cells, and the
    village's mediators and officials. Due at the report's time limit (its last day); red once
    the sweep marked it 已超时."""
    if user.role == "grid_worker":
        mine = SelfReport.grid_cell_id.in_(list(scope.grid_cell_ids or ()))
    elif user.role in workflow.HANDLERS and level == "village":
        mine = scope.clause(SelfReport.region_code)
    else:
        return None
    last_day = func.timezone("Asia/Shanghai", SelfReport.due_at) - dt.timedelta(seconds=1)
    return select(
        *_columns(
            "self_report",
            literal("verify", String),
            SelfReport.id,
            last_day,
            when((SelfReport.state == "expired", "red"), else_="none"),
            SelfReport.number,
            func.left(SelfReport.category + "：" + SelfReport.description, 60),
            literal("/self-reports/", String) + SelfReport.number,
        )
    ).where(mine, SelfReport.state.in_(OPEN_SELF_REPORTS))


def _may(rule: workflow.Rule, user, level: str) -> bool:
    """Whether the user's role and level may take a rule's action on a case at `level`."""
    return user.role in rule.roles and rule.level_ok(user.region.level, level)


def _sources(user, today: dt.date | None = None) -> list | None:
    """The selects of the user's tasks, one per source (None: the role has none)."""
    if user.role not in TASK_ROLES:
        return None
    today = today or clock.today()
    level = user.region.level
    if user.role == "department_staff":
        sources = [_unit_dispatch_tasks(user)]
    elif level not in workflow.LEVEL_RANK:
        # Above the county (a 市/省 official, issue 17): no case is at their level.
        sources = [_inspection_tasks(user, today), _campaign_tasks(user, today)]
    else:
        scope = scope_for(user)
        sources = [
            _case_tasks(user, scope, level),
            _follow_up_tasks(user, scope, level),
            _inspection_tasks(user, today),
        ]
        if user.role in workflow.HANDLERS:
            sources.append(_centre_dispatch_tasks(user, scope, level))
        sources.append(_campaign_tasks(user, today))
        sources.append(_self_report_tasks(user, scope, level))
    return [s for s in sources if s is not None]


def tasks_of(user, today: dt.date | None = None):
    """The user's tasks as one subquery (None: the role has none)."""
    sources = _sources(user, today)
    return None if sources is None else union_all(*sources).subquery("tasks")


def task_json(row) -> dict:
    """One task as the API shows it."""
    return {
        "kind": row.kind,
        "action": row.action,
        "action_name": ACTION_NAMES[row.action],
        "number": row.number,
        "title": row.title,
        "due": row.due.isoformat() if row.due else None,
        "warning": row.warning,
        "link": row.link,
    }


def page(user, after: str | None, limit: int) -> dict:
    """One page of the user's tasks, nearest deadline first, with the counts by kind.

    One statement: the tasks are computed once (a CTE read twice is materialised), counted by
    kind, and the page is taken from them (a LEFT JOIN, so the counts come even with no page).
    """
    sources = _sources(user)
    counts = dict.fromkeys(KINDS, 0)
    if sources is None:
        return {"items": [], "next": None, "counts": counts, "total": 0}
    tasks = union_all(*sources).cte("tasks")
    by_kind = select(tasks.c.kind, func.count().label("n")).group_by(tasks.c.kind).subquery()
    counted = select(
        func.coalesce(func.json_object_agg(by_kind.c.kind, by_kind.c.n), EMPTY).label("counts")
    ).subquery("counted")
    rows = paging.nearest_due_first(select(tasks), tasks.c.due, tasks.c.key, after, limit)
    rows = rows.subquery("page").lateral()
    stmt = (
        select(counted.c.counts, rows)
        .select_from(counted.outerjoin(rows, true()))
        .order_by(paging.due_key(rows.c.due), rows.c.key)
    )
    result = db.session.execute(stmt).all()
    counts |= result[0].counts
    found = [r for r in result if r.kind is not None]
    items, cursor = paging.page(found, limit, lambda r: (r.due, r.key))
    return {
        "items": [task_json(r) for r in items],
        "next": cursor,
        "counts": counts,
        "total": sum(counts.values()),
    }


def count(user) -> int:
    """How many tasks the user has (the header's badge): one statement."""
    tasks = tasks_of(user)
    if tasks is None:
        return 0
    return db.session.scalar(select(func.count()).select_from(tasks))
