"""The case workflow as one declarative table (shared/DOMAIN.md §3.1, §3.3).

The API, the pages, the docs (docs/workflow.md, generated) and the tests all read WORKFLOW.
Each rule says: from which states an action may be taken, the state it leads to, which roles may
take it, at which level relative to the case, for which kinds, and which fields it requires.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists
from sqlalchemy import select

from app.dispatch.models import OPEN_DISPATCH_STATES
from app.dispatch.models import Dispatch
from app.extensions import db

OPEN_STATES = frozenset({"reported", "accepted", "in_progress"})
SETTLED_STATES = frozenset({"resolved", "followed_up", "closed"})
TERMINAL_STATES = frozenset({"rejected", "withdrawn"})
ALL_KINDS = frozenset({"dispute", "petition", "incident"})
LEVEL_RANK = {"village": 0, "town": 1, "county": 2}
# Actors may sit above the county (a 市 or 省 official, issue 17): above every case's level.
ACTOR_RANK = {**LEVEL_RANK, "prefecture": 3, "province": 4}
LEVEL_NAMES = {"village": "村级", "town": "镇级", "county": "县级"}
STATE_NAMES = {
    "reported": "待受理",
    "accepted": "已受理",
    "in_progress": "办理中",
    "resolved": "已办结",
    "followed_up": "已回访",
    "closed": "已归档",
    "rejected": "不予受理",
    "withdrawn": "已撤回",
}
KIND_NAMES = {"dispute": "矛盾纠纷", "petition": "信访事项", "incident": "治安/安全事件"}

# Outcomes of `resolve` by kind (shared/DOMAIN.md §3.1).
OUTCOMES = {
    "dispute": {"agreement": "调解成功", "failed": "调解不成", "referred": "转办"},
    "petition": {"supported": "支持", "explained": "解释说明", "not_supported": "不予支持"},
    "incident": {"handled": "已处置"},
}

# Conditions on the case that some rules need beyond its state and kind (the `needs` column),
# with what they mean; a rule whose condition fails is refused like a wrong state (409).
NEEDS = {
    "same_matter_pending": "a likely same matter awaits the handler's decision (第十九条)",
    "agreement_invalid": "the court found the agreement invalid (人民调解法 第三十三条第二款)",
    "re_review_no_hearing": "a 复核 case with no hearing running (第三十六条)",
    "hearing_running": "a hearing is running",
    "no_open_lead_dispatch": "no lead unit's dispatch is open (the centre resolves it by 核查通过)",
    "no_handler": "nobody is named the case's handler (承办人) at its level",
}
NEED_NAMES = {
    "same_matter_pending": "待判断是否同一信访事项",
    "agreement_invalid": "调解协议被法院确认无效",
    "re_review_no_hearing": "复核事项且未在听证",
    "hearing_running": "正在听证",
    "no_open_lead_dispatch": "没有在办的主办单位分拨",
    "no_handler": "未指定承办人",
}


def need_met(need: str | None, case) -> bool:
    """Whether the case meets a rule's `needs` condition (None: nothing needed)."""
    if need is None:
        return True
    if need == "same_matter_pending":
        return case.same_matter_decision == "pending"
    if need == "agreement_invalid":
        return case.agreement is not None and case.agreement.judicial_outcome == "invalid"
    if need == "no_handler":
        return case.handler_id is None
    running = case.hearing_started_on is not None and case.hearing_ended_on is None
    if need == "re_review_no_hearing":
        return case.review_stage == "re_review" and not running
    if need == "hearing_running":
        return running
    if need == "no_open_lead_dispatch":
        return not has_open_lead_dispatch(case.id)
    raise KeyError(need)


def has_open_lead_dispatch(case_id: int) -> bool:
    """Whether a lead unit (主办) holds the case now: sent, signed or reported back."""
    return db.session.scalar(
        select(
            exists().where(
                Dispatch.case_id == case_id,
                Dispatch.role == "lead",
                Dispatch.state.in_(OPEN_DISPATCH_STATES),
            )
        )
    )


# Who, by level relative to the case's current level:
#   "case"     the actor's jurisdiction is at the case's level (the unit handling it);
#   "above"    strictly above the case's level (its supervisors);
#   "case_up"  at the case's level or above;
#   "any"      any level (the case must still be in the actor's jurisdiction).
# The reporter of a case may always withdraw it while it is open (`reporter_may`).


@dataclass(frozen=True)
class Rule:
    """One row of the workflow table."""

    action: str
    name: str
    from_states: frozenset[str]
    to_state: str | None  # None: the state does not change
    roles: frozenset[str]
    levels: str
    fields: tuple[str, ...] = ()
    kinds: frozenset[str] = ALL_KINDS
    reporter_may: bool = False
    note: str = ""
    needs: str | None = None  # a NEEDS condition on the case

    def level_ok(self, actor_level: str, case_level: str) -> bool:
        """Whether an actor at `actor_level` may act on a case at `case_level`."""
        a, c = ACTOR_RANK[actor_level], LEVEL_RANK[case_level]
        return {
            "case": a == c,
            "above": a > c,
            "case_up": a >= c,
            "any": True,
        }[self.levels]


HANDLERS = frozenset({"mediator", "official"})
OFFICIALS = frozenset({"official"})
FIELD = frozenset({"grid_worker", "mediator", "official"})
UNIT_STAFF = frozenset({"department_staff"})  # 部门工作人员 (shared/DOMAIN.md §8)
# A case has a named handler (承办人) while it is open, and after resolution for the follow-up.
HANDLER_STATES = OPEN_STATES | frozenset({"resolved"})

WORKFLOW: dict[str, Rule] = {
    r.action: r
    for r in [
        Rule(
            "accept",
            "受理",
            frozenset({"reported"}),
            "accepted",
            HANDLERS,
            "case",
            note="stops the acceptance clock; starts the resolution clock",
        ),
        Rule(
            "reject",
            "不予受理",
            frozenset({"reported"}),
            "rejected",
            HANDLERS,
            "case",
            ("reason",),
            note="written reason (书面告知); terminal",
        ),
        Rule("start", "开始办理", frozenset({"accepted"}), "in_progress", HANDLERS, "case"),
        Rule(
            "resolve",
            "办结",
            frozenset({"accepted", "in_progress"}),
            "resolved",
            HANDLERS,
            "case",
            ("outcome", "note"),
            note="dispute: agreement (with the agreement) / failed (routes told) / referred; "
            "petition: supported / explained / not_supported with a written reply; "
            "incident: handled; with a lead unit's dispatch open, the centre resolves by its "
            "核查通过 (the dispatch table's `accept`)",
            needs="no_open_lead_dispatch",
        ),
        Rule(
            "follow_up",
            "回访",
            frozenset({"resolved"}),
            "followed_up",
            FIELD,
            "any",
            ("method", "satisfaction"),
        ),
        Rule("close", "归档", frozenset({"followed_up"}), "closed", HANDLERS, "case_up"),
        Rule(
            "escalate",
            "提级",
            OPEN_STATES,
            "reported",
            HANDLERS,
            "case",
            ("reason",),
            note="level +1; the acceptance clock restarts at the new level",
        ),
        Rule(
            "assign_down",
            "交办",
            OPEN_STATES,
            "reported",
            HANDLERS,
            "case",
            ("to_level", "reason"),
            note="to a lower level of the case's own town/village; acceptance clock restarts",
        ),
        Rule(
            "dispatch",
            "分拨交办",
            frozenset({"accepted", "in_progress"}),
            "in_progress",
            HANDLERS,
            "case",
            ("lead_department_id",),
            note="the town or county centre sends the case to one lead unit (主办), optional "
            "co-handlers (协办) and informed units (抄告) in its jurisdiction, with the report "
            "deadline (第二十二条; default and latest the resolution deadline); villages have no "
            "units (409); one open lead at a time (409). `POST /api/v1/cases/<number>/"
            "dispatches`; the dispatch table below runs each dispatch",
        ),
        Rule(
            "withdraw",
            "撤回",
            OPEN_STATES,
            "withdrawn",
            HANDLERS,
            "case",
            ("reason",),
            reporter_may=True,
            note="also by the reporter; terminal",
        ),
        Rule(
            "request_extension",
            "申请延期",
            frozenset({"accepted", "in_progress"}),
            None,
            HANDLERS,
            "case",
            ("days", "reason"),
            note="petition: once, at most 30 days (信访工作条例 第三十四条)",
        ),
        Rule(
            "approve_extension",
            "审批延期",
            frozenset({"accepted", "in_progress"}),
            None,
            OFFICIALS,
            "case_up",
            ("approved",),
            note="by an official of the same or a higher level; needs a pending request",
        ),
        Rule(
            "supervise",
            "督办",
            OPEN_STATES | frozenset({"resolved", "followed_up"}),
            None,
            OFFICIALS,
            "case_up",
            ("supervision",),
            note="普通 / 黄牌 / 红牌 with a note and a date; `none` clears it",
        ),
        Rule(
            "reopen",
            "重新办理",
            frozenset({"followed_up", "closed"}),
            "in_progress",
            OFFICIALS,
            "case_up",
            ("reason",),
            note="only after a 不满意 follow-up; same level",
        ),
        Rule(
            "record_performance",
            "履行情况",
            SETTLED_STATES,
            None,
            HANDLERS,
            "case_up",
            ("performed",),
            frozenset({"dispute"}),
            note="whether the agreement was performed (人民调解法 第三十一条)",
        ),
        Rule(
            "record_judicial",
            "司法确认",
            SETTLED_STATES,
            None,
            HANDLERS,
            "case_up",
            ("judicial_outcome",),
            frozenset({"dispute"}),
            note="application within 30 days of the agreement (第三十三条) and its outcome",
        ),
        Rule(
            "request_review",
            "复查申请",
            SETTLED_STATES,
            None,
            HANDLERS,
            "above",
            ("reason",),
            frozenset({"petition"}),
            note="within 30 days of the reply; opens a linked case one level up with its own "
            "clocks (信访工作条例 第三十五条)",
        ),
        Rule(
            "request_re_review",
            "复核申请",
            SETTLED_STATES,
            None,
            HANDLERS,
            "above",
            ("reason",),
            frozenset({"petition"}),
            note="on a 复查 case, within 30 days of its reply; one level up; nothing after "
            "复核 (第三十六条)",
        ),
        Rule(
            "confirm_different_matter",
            "确认非同一事项",
            frozenset({"reported"}),
            None,
            HANDLERS,
            "case",
            ("note",),
            frozenset({"petition"}),
            note="the handler finds the likely same matter is a different one (recorded with "
            "the note); acceptance is possible again (信访工作条例 第十九条)",
            needs="same_matter_pending",
        ),
        Rule(
            "refuse_mediation",
            "当事人拒绝调解",
            frozenset({"accepted", "in_progress"}),
            "rejected",
            HANDLERS,
            "case",
            ("refused_by", "routes_told"),
            frozenset({"dispute"}),
            note="a party refuses: mediation cannot proceed; the other routes told "
            "(人民调解法 第十七条); terminal",
        ),
        Rule(
            "name_mediators",
            "指定调解员",
            frozenset({"accepted", "in_progress"}),
            None,
            HANDLERS,
            "case_up",
            ("mediator_ids",),
            frozenset({"dispute"}),
            note="one or more active mediators whose jurisdiction holds the case "
            "(人民调解法 第十九条); replaces the list",
        ),
        Rule(
            "claim",
            "认领",
            HANDLER_STATES,
            None,
            HANDLERS,
            "case",
            note="the caller becomes the case's handler (承办人) at its level; cleared when the "
            "case changes level",
            needs="no_handler",
        ),
        Rule(
            "assign_handler",
            "指定承办人",
            HANDLER_STATES,
            None,
            HANDLERS,
            "case_up",
            ("handler_id",),
            note="an active mediator or official whose jurisdiction is at the case's level and "
            "holds the case; a reassignment records the previous handler; the named person is "
            "told (handler_assigned)",
        ),
        Rule(
            "reopen_invalid",
            "协议无效后重新办理",
            SETTLED_STATES,
            "in_progress",
            HANDLERS,
            "case_up",
            ("reason",),
            frozenset({"dispute"}),
            note="after a court found the agreement invalid: mediate again (a changed or new "
            "agreement) or resolve by other routes (调解不成, 诉讼) (第三十三条第二款)",
            needs="agreement_invalid",
        ),
        Rule(
            "start_hearing",
            "开始听证",
            frozenset({"accepted", "in_progress"}),
            None,
            HANDLERS,
            "case",
            ("started_on",),
            frozenset({"petition"}),
            note="复核 only; the clock pauses (信访工作条例 第三十六条)",
            needs="re_review_no_hearing",
        ),
        Rule(
            "end_hearing",
            "结束听证",
            frozenset({"accepted", "in_progress"}),
            None,
            HANDLERS,
            "case",
            ("ended_on",),
            frozenset({"petition"}),
            note="the 复核 period is lengthened by the hearing's days (start to end, both "
            "counted) and counted again from its start",
            needs="hearing_running",
        ),
        Rule(
            "record_reply_received",
            "答复送达",
            SETTLED_STATES,
            None,
            HANDLERS,
            "case_up",
            ("received_on",),
            frozenset({"petition"}),
            note="the day the petitioner received the written reply: the 复查/复核 request "
            "window runs from it (第三十五、三十六条)",
        ),
        Rule(
            "record_progress",
            "办理记录",
            OPEN_STATES | SETTLED_STATES,
            None,
            HANDLERS | UNIT_STAFF,
            "any",
            ("note",),
            reporter_may=True,
            note="a progress note (photos through POST …/photos); also by the reporter; a unit's "
            "staff while their unit holds an open lead or co-handling dispatch of the case",
        ),
    ]
}


# --- the dispatch table (分拨交办, shared/DOMAIN.md §8) ------------------------------------------

DISPATCH_STATE_NAMES = {
    "sent": "待签收",
    "signed": "办理中",
    "reported": "待核查",
    "accepted": "已办结",
    "returned": "已退回",
    "withdrawn": "已结束",
}
DISPATCH_ROLE_NAMES = {"lead": "主办", "co": "协办", "informed": "抄告"}
ALL_DISPATCH_ROLES = frozenset(DISPATCH_ROLE_NAMES)
# The levels that have a 综治中心 and units to dispatch to (villages have none).
DISPATCH_LEVELS = frozenset({"town", "county"})

# Who takes a dispatch step:
#   "centre"  a mediator or official at the dispatch's centre level whose jurisdiction holds
#             the case (the 综治中心 that sent it);
#   "unit"    department staff of the unit the dispatch was sent to.


@dataclass(frozen=True)
class DispatchRule:
    """One row of the dispatch table: a step on one dispatch (not on the case)."""

    action: str
    name: str
    from_states: frozenset[str]
    to_state: str | None  # None: the state does not change
    who: str  # "centre" or "unit"
    dispatch_roles: frozenset[str]  # which dispatches (lead / co / informed) take the step
    fields: tuple[str, ...] = ()
    note: str = ""


DISPATCH_WORKFLOW: dict[str, DispatchRule] = {
    r.action: r
    for r in [
        DispatchRule(
            "sign",
            "签收",
            frozenset({"sent"}),
            "signed",
            "unit",
            ALL_DISPATCH_ROLES,
            note="stops the sign clock (1 working day), recording whether it was on time",
        ),
        DispatchRule(
            "return",
            "退回",
            frozenset({"sent", "signed"}),
            "returned",
            "unit",
            frozenset({"lead", "co"}),
            ("reason",),
            note="not in the unit's remit: within 5 working days of the dispatch "
            "(信访工作条例 第二十三条), after it 409; the centre re-dispatches (next round)",
        ),
        DispatchRule(
            "report",
            "办结反馈",
            frozenset({"signed"}),
            "reported",
            "unit",
            frozenset({"lead"}),
            ("note",),
            note="what was done and its result, with optional photos or documents (JPEG, PNG, "
            "PDF); records whether it came by the report deadline",
        ),
        DispatchRule(
            "accept",
            "核查通过",
            frozenset({"reported"}),
            "accepted",
            "centre",
            frozenset({"lead"}),
            ("outcome", "note"),
            note="the case is resolved (the workflow's `resolve`, with the outcome the centre "
            "picks) and waits for its follow-up; the round's co-handlers and informed units end",
        ),
        DispatchRule(
            "redo",
            "重办",
            frozenset({"reported"}),
            "signed",
            "centre",
            frozenset({"lead"}),
            ("reason",),
            note="back to the unit with the reason and a new report deadline (default: the "
            "old one if still ahead, else the case's resolution deadline); redo_count + 1",
        ),
        DispatchRule(
            "claim",
            "认领",
            frozenset({"sent", "signed", "reported"}),
            None,
            "unit",
            ALL_DISPATCH_ROLES,
            note="the caller becomes the unit's named handler (承办人)",
        ),
        DispatchRule(
            "assign_handler",
            "指定承办人",
            frozenset({"sent", "signed", "reported"}),
            None,
            "unit",
            ALL_DISPATCH_ROLES,
            ("handler_id",),
            note="an active member of the unit's staff becomes its named handler (recorded)",
        ),
    ]
}


def dispatch_rule(action: str) -> DispatchRule | None:
    """The dispatch table's row for an action, or None when the action is unknown."""
    return DISPATCH_WORKFLOW.get(action)


def dispatch_permits(r: DispatchRule, dispatch, user) -> bool:
    """Whether the user is the rule's "centre" or "unit" for this dispatch (and its role fits).

    The case itself must already be in the user's scope (the caller loaded it).
    """
    if dispatch.role not in r.dispatch_roles:
        return False
    if r.who == "unit":
        return user.role == "department_staff" and user.department_id == dispatch.department_id
    return (
        user.role in HANDLERS
        and user.region is not None
        and user.region.level == dispatch.centre_level
    )


def dispatch_allowed(dispatch, user) -> list[str]:
    """The dispatch steps this user may take on this dispatch now."""
    return [
        a
        for a, r in DISPATCH_WORKFLOW.items()
        if dispatch.state in r.from_states and dispatch_permits(r, dispatch, user)
    ]


def rule(action: str) -> Rule | None:
    """The rule for an action, or None when the action is unknown."""
    return WORKFLOW.get(action)


def allowed_actions(case, user) -> list[str]:
    """The actions this user may take on this case now (state, role, level and kind)."""
    # The user itself, not flask-login's proxy: permits reads it for every rule.
    user = getattr(user, "_get_current_object", lambda: user)()
    return [a for a, r in WORKFLOW.items() if permits(r, case, user) and state_ok(r, case)]


def state_ok(r: Rule, case) -> bool:
    """Whether the case's state and kind (and the rule's `needs`) allow the rule's action."""
    return case.state in r.from_states and case.kind in r.kinds and need_met(r.needs, case)


def permits(r: Rule, case, user) -> bool:
    """Whether the user's role and level (or being the reporter) allow the rule's action."""
    if r.reporter_may and case.reporter_id == user.id:
        return True
    return user.role in r.roles and r.level_ok(user.region.level, case.level)


def next_level(level: str) -> str | None:
    """The level above, or None above the county."""
    order = list(LEVEL_RANK)
    index = order.index(level)
    return order[index + 1] if index + 1 < len(order) else None


def workflow_markdown() -> str:
    """The table and a Mermaid state diagram, for docs/workflow.md."""
    lines = [
        "| action | 中文 | from states | to state | roles | level | kinds | needs "
        "| required fields |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in WORKFLOW.values():
        roles = ", ".join(sorted(r.roles)) + (" + reporter" if r.reporter_may else "")
        kinds = "all" if r.kinds == ALL_KINDS else ", ".join(sorted(r.kinds))
        lines.append(
            f"| `{r.action}` | {r.name} | {', '.join(sorted(r.from_states))} | "
            f"{r.to_state or '(unchanged)'} | {roles} | {r.levels} | {kinds} | "
            f"{r.needs or '—'} | {', '.join(r.fields) or '—'} |"
        )
    lines += ["", "Conditions (`needs`):", ""]
    lines += [f"- `{name}`: {meaning}" for name, meaning in NEEDS.items()]
    lines += ["", "```mermaid", "stateDiagram-v2", "    [*] --> reported: report"]
    for r in WORKFLOW.values():
        if r.to_state is None:
            continue
        for state in sorted(r.from_states):
            lines.append(f"    {state} --> {r.to_state}: {r.action}")
    lines += ["    rejected --> [*]", "    withdrawn --> [*]", "    closed --> [*]", "```"]
    return "\n".join(lines + ["", *dispatch_markdown()]) + "\n"


def dispatch_markdown() -> list[str]:
    """The dispatch table and its state diagram, as lines of Markdown."""
    lines = [
        "Dispatch steps (`POST /api/v1/cases/<number>/dispatches/<id>/actions/<action>`):",
        "",
        "| action | 中文 | from states | to state | who | dispatch roles | required fields "
        "| note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in DISPATCH_WORKFLOW.values():
        lines.append(
            f"| `{r.action}` | {r.name} | {', '.join(sorted(r.from_states))} | "
            f"{r.to_state or '(unchanged)'} | {r.who} | {', '.join(sorted(r.dispatch_roles))} | "
            f"{', '.join(r.fields) or '—'} | {r.note} |"
        )
    lines += ["", "```mermaid", "stateDiagram-v2", "    [*] --> sent: dispatch"]
    for r in DISPATCH_WORKFLOW.values():
        if r.to_state is None:
            continue
        for state in sorted(r.from_states):
            lines.append(f"    {state} --> {r.to_state}: {r.action}")
    lines += [
        "    sent --> withdrawn: lead accepted",
        "    signed --> withdrawn: lead accepted",
        "    returned --> [*]",
        "    accepted --> [*]",
        "    withdrawn --> [*]",
        "```",
    ]
    return lines
