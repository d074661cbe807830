"""The case workflow as one declarative table (shared/DOMAIN.md §3.1, §3.3).

The API, the pages, the docs (docs/workflow.md, generated) and the tests all read WORKFLOW.
Each rule says: from which states an action may be taken, the state it leads to, which roles may
take it, at which level relative to the case, for which kinds, and which fields it requires.
"""

from __future__ import annotations

from dataclasses import dataclass

OPEN_STATES = frozenset({"reported", "accepted", "in_progress"})
SETTLED_STATES = frozenset({"resolved", "followed_up", "closed"})
TERMINAL_STATES = frozenset({"rejected", "withdrawn"})
ALL_KINDS = frozenset({"dispute", "petition", "incident"})
LEVEL_RANK = {"village": 0, "town": 1, "county": 2}
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

    def level_ok(self, actor_level: str, case_level: str) -> bool:
        """Whether an actor at `actor_level` may act on a case at `case_level`."""
        a, c = LEVEL_RANK[actor_level], LEVEL_RANK[case_level]
        return {
            "case": a == c,
            "above": a > c,
            "case_up": a >= c,
            "any": True,
        }[self.levels]


HANDLERS = frozenset({"mediator", "official"})
OFFICIALS = frozenset({"official"})
FIELD = frozenset({"grid_worker", "mediator", "official"})

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
            "incident: handled",
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
    ]
}


def rule(action: str) -> Rule | None:
    """The rule for an action, or None when the action is unknown."""
    return WORKFLOW.get(action)


def allowed_actions(case, user) -> list[str]:
    """The actions this user may take on this case now (state, role, level and kind)."""
    return [a for a, r in WORKFLOW.items() if permits(r, case, user) and state_ok(r, case)]


def state_ok(r: Rule, case) -> bool:
    """Whether the case's state and kind allow the rule's action."""
    return case.state in r.from_states and case.kind in r.kinds


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
        "| action | 中文 | from states | to state | roles | level | kinds | required fields |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in WORKFLOW.values():
        roles = ", ".join(sorted(r.roles)) + (" + reporter" if r.reporter_may else "")
        kinds = "all" if r.kinds == ALL_KINDS else ", ".join(sorted(r.kinds))
        lines.append(
            f"| `{r.action}` | {r.name} | {', '.join(sorted(r.from_states))} | "
            f"{r.to_state or '(unchanged)'} | {roles} | {r.levels} | {kinds} | "
            f"{', '.join(r.fields) or '—'} |"
        )
    lines += ["", "```mermaid", "stateDiagram-v2", "    [*] --> reported: report"]
    for r in WORKFLOW.values():
        if r.to_state is None:
            continue
        for state in sorted(r.from_states):
            lines.append(f"    {state} --> {r.to_state}: {r.action}")
    lines += ["    rejected --> [*]", "    withdrawn --> [*]", "    closed --> [*]", "```"]
    return "\n".join(lines) + "\n"
