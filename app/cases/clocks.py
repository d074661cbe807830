"""Legal clocks of cases: the deadline policy (data) on the holiday calendar (data).

A clock's days come from `deadline_policies` (admin-editable; defaults seeded by the migration
from shared/DOMAIN.md §4). Days are counted by app/deadlines (民法典 第二百零一至二百零三条) on the
bundled official calendar merged with the years an admin entered in `holiday_years`.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select

from app.audit import services as audit
from app.cases.models import DeadlinePolicy
from app.cases.models import HolidayYear
from app.deadlines.calendar import SHANGHAI
from app.deadlines.calendar import Due
from app.deadlines.calendar import HolidayCalendar
from app.deadlines.calendar import YearCheck
from app.deadlines.calendar import due_after
from app.deadlines.calendar import validate_year
from app.deadlines.holidays_cn import bundled_data
from app.extensions import db

log = logging.getLogger(__name__)

# Clock names used by the policy table.
ACCEPT = "accept"
RESOLVE = "resolve"
EXTENSION_MAX = "extension_max"
REVIEW_REQUEST = "review_request"
REVIEW_ANSWER = "review_answer"
RE_REVIEW_REQUEST = "re_review_request"
RE_REVIEW_DECISION = "re_review_decision"
JUDICIAL_WINDOW = "judicial_window"

# The defaults of shared/DOMAIN.md §4, as the migration seeds them (kind, level, clock, variant,
# days, unit, source).
DEFAULT_POLICY = [
    ("petition", "*", ACCEPT, "*", 15, "days", "信访工作条例 第二十二、二十三条"),
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


def policy(kind: str, level: str, clock: str, variant: str | None = None) -> DeadlinePolicy | None:
    """The most specific policy row: exact level and variant first, then the '*' wildcards."""
    rows = db.session.scalars(
        select(DeadlinePolicy).where(
            DeadlinePolicy.kind == kind,
            DeadlinePolicy.clock == clock,
            DeadlinePolicy.level.in_([level, "*"]),
            DeadlinePolicy.variant.in_([variant or "*", "*"]),
        )
    ).all()
    rows.sort(key=lambda r: (r.level == "*", r.variant == "*"))
    return rows[0] if rows else None


def calendar() -> HolidayCalendar:
    """The bundled official calendar, with any years an admin has entered (these win)."""
    extra = {
        row.year: {"holidays": row.holidays or [], "workdays": row.workdays or []}
        for row in db.session.scalars(select(HolidayYear))
    }
    return HolidayCalendar.from_data(bundled_data(), extra)


def due(
    kind: str,
    level: str,
    clock: str,
    start: dt.datetime | dt.date,
    variant: str | None = None,
) -> Due | None:
    """When `clock` ends for a case of `kind` at `level`, started at `start`; None if no policy."""
    row = policy(kind, level, clock, variant)
    if row is None:
        return None
    result = due_after(start, row.days, row.unit, calendar=calendar())
    if result.uncovered_years:
        log.warning("holiday calendar does not cover %s", sorted(result.uncovered_years))
    return result


def holiday_years() -> list[dict]:
    """The years the calendar covers: bundled ones and those an admin entered (which win)."""
    entered = {row.year: row for row in db.session.scalars(select(HolidayYear))}
    years = [
        {
            "year": year,
            "source": "bundled",
            "holidays": sorted(data["holidays"]),
            "workdays": sorted(data["workdays"]),
            "notice": None,
            "warnings": [],
        }
        for year, data in bundled_data().items()
        if year not in entered
    ]
    years += [
        {
            "year": year,
            "source": "entered",
            "holidays": sorted(row.holidays),
            "workdays": sorted(row.workdays),
            "notice": row.notice,
            "warnings": [],
        }
        for year, row in entered.items()
    ]
    return sorted(years, key=lambda y: y["year"])


def update_policy(row: DeadlinePolicy, data: dict, at: dt.datetime) -> DeadlinePolicy:
    """Change a clock's length or unit (data as DeadlinePolicyIn loads it), audited; clocks
    started afterwards use it. Used by the admin page (the API may share it)."""
    before = {"days": row.days, "unit": row.unit}
    row.days, row.unit = data["days"], data["unit"]
    if data.get("source"):
        row.source = data["source"]
    row.updated_at = at
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
    db.session.flush()
    return row


def save_holiday_year(
    year: int, holidays, workdays, notice: str | None, actor, at: dt.datetime
) -> tuple[HolidayYear, YearCheck]:
    """Enter (or correct) a year's official schedule, audited; it replaces the bundled one.

    Raises ApiError 422 naming every problem (and writes nothing) when the schedule is wrong.
    Used by PUT /api/v1/holiday-years/<year> and the admin page alike.
    """
    from flask_babel import gettext as _

    from app.audit import services as audit
    from app.errors import ApiError

    if not 2000 <= year <= 2100:
        raise ApiError(422, _("年份应在 2000–2100 之间"), {"path": {"year": ["2000–2100"]}})
    check = validate_year(year, holidays, workdays)
    if not check.ok:
        # The per-date reasons come from app/deadlines (Chinese, like the command line's).
        raise ApiError(422, _("节假日安排有误"), {"json": {"holidays": list(check.errors)}})
    row = db.session.get(HolidayYear, year) or HolidayYear(year=year)
    row.holidays = sorted(check.holidays)
    row.workdays = sorted(check.workdays)
    row.notice = notice
    row.entered_by_id = actor.id
    row.entered_at = at
    db.session.add(row)
    audit.record(
        "deadlines.holidays",
        actor=actor,
        object_type="holiday_year",
        object_id=year,
        detail={"holidays": len(row.holidays), "workdays": len(row.workdays)},
    )
    return row, check


def today() -> dt.date:
    """Today in Asia/Shanghai."""
    return dt.datetime.now(SHANGHAI).date()


def shanghai_date(moment: dt.datetime) -> dt.date:
    """The Asia/Shanghai date of an instant."""
    return moment.astimezone(SHANGHAI).date()


def warning_for(start: dt.date | None, due_date: dt.date | None, on: dt.date) -> str:
    """none / yellow (≤ 20% of the period or ≤ 3 days left) / red (overdue) for one clock."""
    if due_date is None:
        return "none"
    if on > due_date:
        return "red"
    left = (due_date - on).days
    period = max((due_date - (start or on)).days, 1)
    return "yellow" if left <= 3 or left <= 0.2 * period else "none"
