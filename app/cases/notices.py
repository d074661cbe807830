"""Who is told what when a case moves (docs/notifications.md): the notifications of case actions.

Called by the case services beside the change, so each notification is written (app/notify
emit) in the change's transaction. The texts are stored in Chinese, like the timeline's notes.
Dispatch events, and `case_assigned` for the level a case lands on, are told by their own
services (app/dispatch, the tasks).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.accounts.models import User
from app.cases import workflow
from app.cases.models import Case
from app.cases.models import CaseEvent
from app.extensions import db
from app.notify.services import emit

WARNING_EVENTS = {"yellow": "due_soon", "red": "overdue"}


def level_region_id(case: Case) -> int:
    """The region of the case's current level (its village, town or county)."""
    return {"village": case.village_id, "town": case.town_id, "county": case.county_id}[case.level]


def staff_at(region_id: int, roles: tuple[str, ...]) -> list[int]:
    """Active users of these roles whose jurisdiction is exactly this region (that level's)."""
    return list(
        db.session.scalars(
            select(User.id)
            .where(User.region_id == region_id, User.role.in_(roles), User.active.is_(True))
            .order_by(User.id)
        )
    )


def _level_name(level: str) -> str:
    return workflow.LEVEL_NAMES[level]


def after_action(
    case: Case, user, action: str, data: dict, before_level: str, before_handler_id: int | None
) -> None:
    """Tell the people concerned about a workflow action just applied (the actor excepted)."""
    if action == "escalate":
        escalated(case, before_handler_id, exclude=user)
    elif action == "assign_down":
        emit(
            "case_handed_down",
            staff_at(level_region_id(case), ("mediator", "official")),
            title=f"事件 {case.number} 由{_level_name(before_level)}交办至本级",
            body=case.title,
            case=case,
            exclude=user,
        )
    elif action == "supervise" and case.supervision != "none":
        due = f"，办理期限 {case.supervision_due.isoformat()}" if case.supervision_due else ""
        emit(
            "supervised",
            [case.handler_id]
            if case.handler_id
            else staff_at(level_region_id(case), ("mediator",)),
            title=f"事件 {case.number} 被督办{due}",
            body=case.supervision_note or case.title,
            case=case,
            exclude=user,
        )
    elif action == "approve_extension":
        requester = db.session.scalar(
            select(CaseEvent.actor_id)
            .where(CaseEvent.case_id == case.id, CaseEvent.action == "request_extension")
            .order_by(CaseEvent.id.desc())
            .limit(1)
        )
        verdict = "已批准" if data.get("approved") else "未批准"
        emit(
            "extension_decided",
            [requester] if requester else [],
            title=f"事件 {case.number} 的延期申请{verdict}",
            body=f"办理期限 {case.resolve_due.isoformat()}" if case.resolve_due else None,
            case=case,
            exclude=user,
        )
    elif action == "follow_up" and data.get("satisfaction") == "dissatisfied":
        emit(
            "follow_up_dissatisfied",
            [*staff_at(level_region_id(case), ("official",)), case.handler_id],
            title=f"事件 {case.number} 回访不满意",
            body=data.get("note") or case.title,
            case=case,
            exclude=user,
        )


def escalated(case: Case, before_handler_id: int | None, exclude=None) -> None:
    """Tell the reporter and the previous handler that the case went up a level."""
    emit(
        "case_escalated",
        [case.reporter_id, before_handler_id],
        title=f"事件 {case.number} 已提级至{_level_name(case.level)}",
        body=case.title,
        case=case,
        exclude=exclude,
    )


def warning_changed(
    case_id: int,
    number: str,
    handler_id: int | None,
    region_id: int,
    warning: str,
    on: dt.date,
) -> None:
    """A case turned yellow (due soon) or red (overdue): tell its handler, else the level's
    mediators; once per case, warning and day (the sweep runs again and again)."""
    event = WARNING_EVENTS.get(warning)
    if event is None:
        return
    text = "即将到期" if warning == "yellow" else "已逾期"
    emit(
        event,
        [handler_id] if handler_id else staff_at(region_id, ("mediator",)),
        title=f"事件 {number} {text}",
        link=f"/cases/{number}",
        dedup_key=f"case:{case_id}:{warning}:{on.isoformat()}",
    )
