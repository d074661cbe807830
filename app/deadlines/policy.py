"""The deadline policy (期限规则): how long each legal clock runs, as data an admin edits.

A clock's days come from `deadline_policies` (defaults below, from shared/DOMAIN.md §4); they
are counted by app/deadlines/calendar.py on the calendar of app/deadlines/years.py.
"""

from __future__ import annotations

import datetime as dt
import logging
import math

from sqlalchemy import select

from app.audit import services as audit
from app.core import clock
from app.core.errors import NotFound
from app.deadlines import snapshot
from app.deadlines.calendar import Due
from app.deadlines.calendar import due_after
from app.deadlines.models import DeadlinePolicy
from app.extensions import db

log = logging.getLogger(__name__)

# Clock names used by the policy table.
ACCEPT = "accept"
OBJECTION = "objection"
RESOLVE = "resolve"
EXTENSION_MAX = "extension_max"
REVIEW_REQUEST = "review_request"
REVIEW_ANSWER = "review_answer"
RE_REVIEW_REQUEST = "re_review_request"
RE_REVIEW_DECISION = "re_review_decision"
JUDICIAL_WINDOW = "judicial_window"

# The defaults of shared/DOMAIN.md §4 (kind, level, clock, variant, days, unit, source). The one
# source from now on: migration 0004 seeded a frozen copy of this list, which stays as it was.
DEFAULT_POLICY = [
    ("petition", "*", ACCEPT, "*", 15, "days", "信访工作条例 第二十二、二十三条"),
    # A body receiving a forwarded matter outside its remit objects within 5 工作日 (第二十三条);
    # used by dispatch. Seeded by migration 0009.
    ("petition", "*", OBJECTION, "*", 5, "working_days", "信访工作条例 第二十三条"),
    ("petition", "*", RESOLVE, "*", 60, "days", "信访工作条例 第三十四条"),
    ("petition", "*", EXTENSION_MAX, "*", 30, "days", "信访工作条例 第三十四条（延期一次）"),
    ("petition", "*", REVIEW_REQUEST, "*", 30, "days", "信访工作条例 第三十五条"),
    ("petition", "*", REVIEW_ANSWER, "*", 30, "days", "信访工作条例 第三十五条"),
    ("petition", "*", RE_REVIEW_REQUEST, "*", 30, "days", "信访工作条例 第三十六条"),
    ("petition", "*", RE_REVIEW_DECISION, "*", 30, "days", "信访工作条例 第三十六条"),
    ("dispute", "*", ACCEPT, "*", 3, "days", "地方实践（可配置）"),
    ("dispute", "*", RESOLVE, "*", 30, "days", "深圳 2022 第二十五条；宁波 第二十七条"),
    ("dispute", "*", EXTENSION_MAX, "*", 30, "days", "经当事人同意可延长（可配置）"),
    ("dispute", "*", JUDICIAL_WINDOW, "*", 30, "days", "人民调解法 第三十三条"),
    ("incident", "*", RESOLVE, "simple", 1, "days", "县级实践：简易"),
    ("incident", "*", RESOLVE, "ordinary", 7, "days", "县级实践：一般"),
    ("incident", "*", RESOLVE, "complex", 20, "days", "县级实践：复杂"),
    ("incident", "*", EXTENSION_MAX, "*", 10, "days", "县级实践（可配置）"),
]


def current() -> snapshot.Snapshot:
    """The policy and calendar in force (cached per process by data version, app/deadlines/
    snapshot.py): read it once where several clocks start together."""
    return snapshot.current()


def rule_for(kind: str, level: str, name: str, variant: str | None = None) -> snapshot.Rule | None:
    """The most specific policy row: exact level and variant first, then the '*' wildcards."""
    return snapshot.current().rule_for(kind, level, name, variant)


# Yellow (黄牌) when the days left are ≤ 20% of the period, rounded up, at least 1 (DOMAIN §4);
# each row may set its own share (deadline_policies.warn_percent).
DEFAULT_WARN_PERCENT = 20


def yellow_days(days: int, percent: int | None = None) -> int:
    """How many days left (today included) turn a clock of `days` yellow: 3 → 1, 15 → 3, 60 → 12."""
    share = DEFAULT_WARN_PERCENT if percent is None else percent
    return max(1, math.ceil(days * share / 100))


def spec(kind: str, level: str, name: str, variant: str | None = None) -> dict | None:
    """The rule a clock starts with, as a case keeps it ({"days", "unit", "percent"}), or None."""
    return snapshot.current().spec(kind, level, name, variant)


def due(
    kind: str,
    level: str,
    name: str,
    start: dt.datetime | dt.date,
    variant: str | None = None,
) -> Due | None:
    """When clock `name` ends for `kind` at `level`, started at `start`; None without a rule."""
    rules = snapshot.current()
    row = rules.rule_for(kind, level, name, variant)
    if row is None:
        return None
    result = due_after(start, row.days, row.unit, calendar=rules.calendar)
    if result.uncovered_years:
        log.warning("holiday calendar does not cover %s", sorted(result.uncovered_years))
    return result


def all_rules() -> list[DeadlinePolicy]:
    """Every rule, by kind, clock, level and variant."""
    return db.session.scalars(
        select(DeadlinePolicy).order_by(
            DeadlinePolicy.kind, DeadlinePolicy.clock, DeadlinePolicy.level, DeadlinePolicy.variant
        )
    ).all()


def update(policy_id: int, data: dict) -> DeadlinePolicy:
    """Change a clock's days and unit (and source), audited; clocks started afterwards use it."""
    row = db.session.get(DeadlinePolicy, policy_id)
    if row is None:
        raise NotFound("期限规则不存在")
    before = {"days": row.days, "unit": row.unit, "warn_percent": row.warn_percent}
    row.days, row.unit = data["days"], data["unit"]
    if data.get("warn_percent"):
        row.warn_percent = data["warn_percent"]
    if data.get("source"):
        row.source = data["source"]
    row.updated_at = clock.now()
    audit.record(
        "deadlines.update",
        object_type="deadline_policy",
        object_id=row.id,
        detail={
            "rule": f"{row.kind}/{row.level}/{row.clock}/{row.variant}",
            "before": before,
            "after": {"days": row.days, "unit": row.unit, "warn_percent": row.warn_percent},
        },
    )
    db.session.flush()
    return row
