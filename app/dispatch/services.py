"""Dispatch operations (分拨交办, shared/DOMAIN.md §8): send a case to units, and each step on a
dispatch (签收, 退回, 办结反馈, 核查通过, 重办, 承办人).

The case-level `dispatch` is a row of the case workflow (app/cases/workflow.py WORKFLOW): this
module plugs its service into the case workflow's action runner, so its checks (role, level,
version, state) are the case's. Each step on a dispatch is a row of DISPATCH_WORKFLOW and runs
through app.core.actions.run with the dispatch's own version. Every change writes the case's
timeline, the audit log and its notifications in the caller's transaction; services flush, the
request commits.
"""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext
from flask_babel import gettext as _
from sqlalchemy import func
from sqlalchemy import select

from app.accounts.models import User
from app.attachments import services as attachments
from app.audit import services as audit
from app.cases import services as case_services
from app.cases import workflow
from app.cases.models import Case
from app.core import clock
from app.core.actions import Step
from app.core.errors import Conflict
from app.core.errors import Forbidden
from app.core.errors import Invalid
from app.core.errors import NotFound
from app.core.errors import PreconditionRequired
from app.core.errors import stale
from app.deadlines import policy
from app.dispatch import schemas
from app.dispatch.models import OPEN_DISPATCH_STATES
from app.dispatch.models import Department
from app.dispatch.models import Dispatch
from app.extensions import db
from app.notify import services as notify
from app.scoping import scope_for

# 签收: one working day (DOMAIN §8). The 退回 window is the policy's objection clock, five working
# days (信访工作条例 第二十三条, `petition / objection`); this is its fallback.
SIGN_RULE = {"days": 1, "unit": "working_days", "percent": None}
RETURN_RULE = {"days": 5, "unit": "working_days", "percent": None}
ROLE_FIELDS = (
    ("lead", "lead_department_id"),
    ("co", "co_department_ids"),
    ("informed", "informed_department_ids"),
)


def return_rule(level: str) -> dict:
    """The 退回 window's rule: the policy's objection clock, else five working days."""
    return policy.spec("petition", level, policy.OBJECTION) or RETURN_RULE


# --- the case-level dispatch (a row of the case workflow) ----------------------------------------


def dispatch_case(case: Case, user, data: dict) -> str:
    """Send the case to its lead unit and the others; the timeline's note (第二十二条: names the
    unit and the report deadline). Registered as the case workflow's `dispatch` handler."""
    if case.level not in workflow.DISPATCH_LEVELS:
        raise Conflict(
            _("村级没有职能部门：分拨交办由镇、县综治中心办理，请先上报至镇级"),
            {
                "allowed_actions": [
                    a for a in workflow.allowed_actions(case, user) if a != "dispatch"
                ]
            },
        )
    units = _units(data, user)
    lead = db.session.scalar(
        select(Dispatch).where(
            Dispatch.case_id == case.id,
            Dispatch.role == "lead",
            Dispatch.state.in_(OPEN_DISPATCH_STATES),
        )
    )
    if lead is not None:
        raise Conflict(
            _(
                "已分拨给 %(unit)s 主办且尚未结束：待其退回或核查后才能再次分拨",
                unit=lead.department.name,
            ),
            {"dispatch": lead.id},
        )
    due = _report_due(case, data.get("report_due"), "report_due")
    moment = clock.now()
    day = clock.local_date(moment)
    last_round = db.session.scalar(
        select(func.max(Dispatch.round)).where(Dispatch.case_id == case.id)
    )
    made = []
    for role, department in units:
        d = Dispatch(
            case_id=case.id,
            department_id=department.id,
            department=department,
            role=role,
            state="sent",
            round=(last_round or 0) + 1,
            instructions=data.get("instructions"),
            centre_region_id=user.region_id,
            centre_level=user.region.level,
            dispatched_by_id=user.id,
            dispatched_at=moment,
            warning="none",
            redo_count=0,
            clock_rules={},
        )
        d.sign_due = case_services.run_clock(d, case_services.SIGN_CLOCK, SIGN_RULE, day)
        if role != "informed":
            rule = return_rule(case.level)
            d.return_due = case_services.run_clock(d, case_services.RETURN_CLOCK, rule, day)
        if role == "lead":
            d.report_due = due
            d.clock_rules = {**d.clock_rules, case_services.REPORT_CLOCK: {"from": day.isoformat()}}
        case_services.refresh_dispatch(d, day)
        db.session.add(d)
        made.append(d)
    db.session.flush()  # the dispatches' ids, for the notifications (the case is not touched yet)
    for d in made:
        notify.emit(
            "dispatch_received",
            case_services.unit_staff_ids(d.department_id),
            title=_received_title(case, d),
            body=d.instructions or case.title,
            case=case,
            dispatch=d,
            exclude=user,
        )
    lead_unit = made[0].department.name
    parts = [f"交办至 {lead_unit}（主办）"]
    for role, label in (("co", "协办"), ("informed", "抄告")):
        names = [d.department.name for d in made if d.role == role]
        if names:
            parts.append(f"{label}：{'、'.join(names)}")
    parts.append(f"限 {due.isoformat()} 前报告办理结果")
    note = "，".join(parts)
    if data.get("instructions"):
        note += f"。要求：{data['instructions']}"
    return note


case_services.register_handler("dispatch", dispatch_case)


def _received_title(case: Case, d: Dispatch) -> str:
    role = workflow.DISPATCH_ROLE_NAMES[d.role]
    if d.role == "lead":
        return (
            f"{case.number} 分拨至{d.department.name}（{role}）：请于 {d.sign_due.isoformat()} 前"
            f"签收，{d.report_due.isoformat()} 前报告办理结果"
        )
    return (
        f"{case.number} 分拨至{d.department.name}（{role}）：请于 {d.sign_due.isoformat()} 前签收"
    )


def _units(data: dict, user) -> list[tuple[str, Department]]:
    """(role, unit) for each unit named: active units in the dispatcher's jurisdiction, each in
    one role only; 422 naming the field otherwise."""
    wanted = [
        (role, field, list(dict.fromkeys(ids if isinstance(ids, list) else [ids])))
        for role, field in ROLE_FIELDS
        if (ids := data.get(field)) is not None
    ]
    every = {i for _r, _f, ids in wanted for i in ids}
    found = {
        d.id: d for d in db.session.scalars(select(Department).where(Department.id.in_(every)))
    }
    scope = scope_for(user)
    errors: dict[str, list[str]] = {}
    seen: set[int] = set()
    for _role, field, ids in wanted:
        wrong = [
            str(i)
            for i in ids
            if i not in found or not found[i].active or not scope.contains(found[i].region_code)
        ]
        if wrong:
            errors[field] = [
                _(
                    "须为本辖区内在用的职能部门：%(ids)s 不在您的辖区内或不存在",
                    ids=", ".join(wrong),
                )
            ]
        elif seen & set(ids):
            errors[field] = [_("同一单位只能担任主办、协办、抄告之一")]
        seen |= set(ids)
    if errors:
        raise Invalid(_("分拨单位有误"), {"json": errors})
    return [(role, found[i]) for role, _field, ids in wanted for i in ids]


def _report_due(case: Case, wanted: dt.date | None, field: str) -> dt.date:
    """The report deadline: as wanted, else the case's resolution deadline; never later than
    that, never before today (422 naming `field`)."""
    latest = case.resolve_due
    due = wanted or latest
    today = clock.today()
    if due is None:
        raise Invalid(
            _("请填写报告办理结果的期限"),
            {"json": {field: [_("必填：该事件没有办结期限可作默认")]}},
        )
    if due < today:
        raise Invalid(
            _("报告期限有误"),
            {"json": {field: [_("不能早于今天（%(d)s）", d=today.isoformat())]}},
        )
    if latest is not None and due > latest:
        raise Invalid(
            _("报告期限有误"),
            {"json": {field: [_("不能晚于事件的办结期限（%(d)s）", d=latest.isoformat())]}},
        )
    return due


# --- steps on one dispatch (the dispatch table) --------------------------------------------------


def stale_message() -> str:
    """The 409's message when someone else changed the dispatch first."""
    return _("该分拨记录已被他人修改，请刷新后重试")


def check_step(dispatch: Dispatch, user, action: str, version: int | None) -> None:
    """The checks before the fields, in the case workflow's order: action, role, version, state,
    then whether the caller is this dispatch's centre or unit (and its role fits)."""
    r = workflow.dispatch_rule(action)
    if r is None:
        raise NotFound(
            _(
                "未知操作 %(action)s；可用操作：%(actions)s",
                action=action,
                actions=", ".join(workflow.DISPATCH_WORKFLOW),
            )
        )
    may = user.role == "department_staff" if r.who == "unit" else user.role in workflow.HANDLERS
    if not may:
        raise Forbidden(_("“%(action)s”须由%(who)s办理", action=gettext(r.name), who=_who(r)))
    if version is None:
        raise PreconditionRequired(
            _("缺少分拨记录版本：请在 If-Match 头或 version 字段中提供"),
            {"json": {"version": [_("必填")]}},
        )
    if version != dispatch.version:
        raise stale(version, dispatch.version, stale_message())
    if dispatch.state not in r.from_states:
        raise Conflict(
            _(
                "分拨记录当前状态（%(state)s）不能执行“%(action)s”",
                state=gettext(workflow.DISPATCH_STATE_NAMES[dispatch.state]),
                action=gettext(r.name),
            ),
            {"state": dispatch.state, "allowed_actions": workflow.dispatch_allowed(dispatch, user)},
        )
    if not workflow.dispatch_permits(r, dispatch, user):
        if r.who == "unit" and user.department_id != dispatch.department_id:
            raise Forbidden(
                _("这不是发给本单位的分拨（发给 %(unit)s）", unit=dispatch.department.name)
            )
        if dispatch.role not in r.dispatch_roles:
            raise Forbidden(
                _(
                    "“%(action)s”只能由%(roles)s单位办理，本单位为%(role)s",
                    action=gettext(r.name),
                    roles=_("、").join(
                        gettext(workflow.DISPATCH_ROLE_NAMES[x]) for x in sorted(r.dispatch_roles)
                    ),
                    role=gettext(workflow.DISPATCH_ROLE_NAMES[dispatch.role]),
                )
            )
        raise Forbidden(_("“%(action)s”须由%(who)s办理", action=gettext(r.name), who=_who(r)))


def _who(r: workflow.DispatchRule) -> str:
    if r.who == "unit":
        return _("被分拨单位的工作人员")
    return _("分拨所在综治中心的调解员或干部")


def step(case: Case, dispatch: Dispatch, user, action: str, version, files=()) -> Step:
    """One dispatch step as app.core.actions.run takes it (the API and the case page alike);
    `files` are a report's uploads (werkzeug FileStorage), checked after the fields."""
    return Step(
        schema=schemas.STEP_SCHEMAS.get(action, schemas.STEP_SCHEMAS["sign"]),
        check=lambda: check_step(dispatch, user, action, version),
        apply=lambda d, data: act(case, d, user, action, data, list(files)),
    )


MAX_FILES = 10


def act(case: Case, d: Dispatch, user, action: str, data: dict, files: list) -> Dispatch:
    """Apply one dispatch step: the dispatch, the case's timeline, the audit log, notifications.

    One UPDATE of the dispatch (one version step): nothing flushes half-made changes, and a
    report's files are stored once the dispatch is written.
    """
    r = workflow.dispatch_rule(action)
    before = d.state
    with db.session.no_autoflush:
        uploads = _checked(files) if action == "report" else []
        if r.to_state is not None:
            d.state = r.to_state
        d.updated_at = clock.now()
        case_services.refresh_dispatch(d)
        note = STEPS[action](case, d, user, data)
        case_services.refresh_dispatch(d)
        case_services.add_event(
            case,
            user,
            f"dispatch_{action}",
            case.state,
            case.state,
            case.level,
            case.level,
            note,
            {"dispatch": d.id, "department": d.department.name, "from": before, "to": d.state},
        )
        audit.record(
            f"dispatch.{action}",
            object_type="dispatch",
            object_id=d.id,
            region_code=case.region_code,
            detail={"case": case.number, "from": before, "to": d.state},
        )
    db.session.flush()
    stored = {a.sha256 for a in attachments.for_owners("dispatch", [d.id]).get(d.id, [])}
    for upload in uploads:
        if upload.sha256 not in stored:  # a retried upload is not attached twice
            attachments.store(upload, "dispatch", d.id, user)
            stored.add(upload.sha256)
    return d


def _sign(case, d, user, data):
    d.signed_at = clock.now()
    d.signed_by_id = user.id
    d.signed_on_time = d.sign_due is None or clock.today() <= d.sign_due
    if d.handler_id is None:
        d.handler_id = user.id  # whoever signs handles it until someone else is named
    late = "" if d.signed_on_time else "（逾期）"
    return f"{d.department.name} 签收{late}，承办人 {user.display_name}"


def _return(case, d, user, data):
    today = clock.today()
    if d.return_due is not None and today > d.return_due:
        raise Conflict(
            _(
                "已过退回期限：须在分拨后 5 个工作日内（至 %(d)s）退回（信访工作条例 第二十三条）；"
                "请与综治中心协商",
                d=d.return_due.isoformat(),
            ),
            {"return_due": d.return_due.isoformat()},
        )
    d.returned_at = clock.now()
    d.return_reason = data["reason"]
    _tell_centre("dispatch_returned", case, d, user, f"{case.number} 被{d.department.name}退回")
    return f"{d.department.name} 退回：{data['reason']}"


def _report(case, d, user, data):
    d.reported_at = clock.now()
    d.reported_on_time = d.report_due is None or clock.today() <= d.report_due
    d.report_note = data["note"]
    _tell_centre(
        "dispatch_reported", case, d, user, f"{case.number} {d.department.name}已办结反馈，待核查"
    )
    late = "" if d.reported_on_time else "（逾期）"
    return f"{d.department.name} 办结反馈{late}：{data['note']}"


def _checked(files: list) -> list[attachments.Upload]:
    if len(files) > MAX_FILES:
        raise Invalid(
            _("每次最多上传 %(n)s 个附件", n=MAX_FILES),
            {"photos": [_("最多 %(n)s 个", n=MAX_FILES)]},
        )
    uploads = []
    for file in files:
        try:
            uploads.append(attachments.read_upload(file))
        except attachments.AttachmentError as exc:
            raise Invalid(exc.message, {"photos": [exc.message]}) from None
    return uploads


def _accept(case, d, user, data):
    d.reviewed_at = clock.now()
    d.reviewed_by_id = user.id
    d.review_note = data.get("note")
    # The round's co-handlers and informed units end with the lead.
    for other in db.session.scalars(
        select(Dispatch).where(
            Dispatch.case_id == case.id,
            Dispatch.round == d.round,
            Dispatch.id != d.id,
            Dispatch.state.in_(OPEN_DISPATCH_STATES),
        )
    ):
        other.state = "withdrawn"
        other.updated_at = d.reviewed_at
        case_services.refresh_dispatch(other)
    db.session.flush()  # the lead is no longer open: `resolve` may run
    resolution = {k: v for k, v in data.items() if k != "version"}
    resolution["note"] = data.get("note") or d.report_note
    case_services.act(case, user, "resolve", resolution, case.version)
    _tell_unit("dispatch_accepted", case, d, user, f"{case.number} 办结反馈已核查通过")
    return f"核查通过：{d.department.name} 的办结反馈；事件办结"


def _redo(case, d, user, data):
    today = clock.today()
    wanted = data.get("report_due")
    if wanted is None and d.report_due is not None and d.report_due >= today:
        wanted = d.report_due
    d.report_due = _report_due(case, wanted, "report_due")
    d.redo_count += 1
    d.reviewed_at = clock.now()
    d.reviewed_by_id = user.id
    d.review_note = data["reason"]
    d.reported_at = None
    d.reported_on_time = None
    d.clock_rules = {
        **(d.clock_rules or {}),
        case_services.REPORT_CLOCK: {"from": today.isoformat()},
    }
    _tell_unit(
        "dispatch_redo",
        case,
        d,
        user,
        f"{case.number} 退回重办：请于 {d.report_due.isoformat()} 前重新报告",
        data["reason"],
    )
    return f"重办（第 {d.redo_count} 次），限 {d.report_due.isoformat()} 前报告：{data['reason']}"


def _claim(case, d, user, data):
    d.handler_id = user.id
    return f"{user.display_name} 认领，为 {d.department.name} 承办人"


def _assign_handler(case, d, user, data):
    handler = db.session.get(User, data["handler_id"])
    if (
        handler is None
        or not handler.active
        or handler.role != "department_staff"
        or handler.department_id != d.department_id
    ):
        raise Invalid(
            _("承办人有误"),
            {"json": {"handler_id": [_("须为 %(unit)s 的在职工作人员", unit=d.department.name)]}},
        )
    before = d.handler.display_name if d.handler else None
    d.handler_id = handler.id
    notify.emit(
        "handler_assigned",
        [handler],
        title=f"{case.number} 您被指定为 {d.department.name} 的承办人",
        body=case.title,
        case=case,
        dispatch=d,
        exclude=user,
    )
    if before:
        return f"承办人由 {before} 改为 {handler.display_name}"
    return f"指定承办人 {handler.display_name}"


STEPS = {
    "sign": _sign,
    "return": _return,
    "report": _report,
    "accept": _accept,
    "redo": _redo,
    "claim": _claim,
    "assign_handler": _assign_handler,
}
assert set(STEPS) == set(workflow.DISPATCH_WORKFLOW) == set(schemas.STEP_SCHEMAS)


def _tell_centre(event: str, case: Case, d: Dispatch, user, title: str) -> None:
    """The dispatcher and the case's handler hear of a unit's return or report."""
    notify.emit(
        event,
        [d.dispatched_by_id, case.handler_id],
        title=title,
        body=d.return_reason if event == "dispatch_returned" else d.report_note,
        case=case,
        dispatch=d,
        exclude=user,
    )


def _tell_unit(event: str, case: Case, d: Dispatch, user, title: str, body=None) -> None:
    """The unit's named handler (else its staff) hears of the centre's decision."""
    notify.emit(
        event,
        [d.handler_id] if d.handler_id else case_services.unit_staff_ids(d.department_id),
        title=title,
        body=body or case.title,
        case=case,
        dispatch=d,
        exclude=user,
    )
