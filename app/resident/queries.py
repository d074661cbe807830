"""What a resident sees with their number and code (docs/resident.md): public words only.

The answer is built from a whitelist: the stage in public words, the unit handling the matter
(a region's or a department's name, never a person), the due dates, the outcome text written for
the public and a timeline of dates and stage words. Parties, staff and internal notes never
enter it.
"""

from __future__ import annotations

from flask_babel import gettext
from sqlalchemy import bindparam
from sqlalchemy import select

from app.cases import workflow
from app.cases.models import Case
from app.cases.models import CaseEvent
from app.core import clock
from app.dispatch.models import OPEN_DISPATCH_STATES
from app.dispatch.models import Department
from app.dispatch.models import Dispatch
from app.extensions import db
from app.geo.models import Region
from app.resident.models import RATING_NAMES
from app.resident.models import Rating
from app.resident.models import Receipt
from app.resident.selfreport_models import SelfReport

# The one mapping from a case's state (and level) to the stage a resident is shown.
STAGES = {
    "pending_verification": "待核实",
    "verification_overdue": "已超时，待核实",
    "declined": "未予受理",
    "registered": "已登记",
    "referred_up": "已转上级办理",
    "accepted": "已受理",
    "in_progress": "办理中",
    "resolved": "已办结",
    "closed": "已办结归档",
    "rejected": "不予受理",
    "withdrawn": "已撤回",
}
SELF_REPORT_STAGES = {
    "pending": "pending_verification",
    "expired": "verification_overdue",
    "declined": "declined",
    "verified": "registered",  # it has a case by then; the case's stage is shown
}
STATE_STAGES = {
    "reported": "registered",
    "accepted": "accepted",
    "in_progress": "in_progress",
    "resolved": "resolved",
    "followed_up": "resolved",
    "closed": "closed",
    "rejected": "rejected",
    "withdrawn": "withdrawn",
}
RATEABLE_STATES = frozenset({"resolved", "followed_up", "closed"})


def case_stage(state: str, level: str | None = None, origin_level: str | None = None) -> str:
    """The stage key of a case in `state` (a case waiting at a higher level was referred up)."""
    stage = STATE_STAGES[state]
    if stage == "registered" and level and origin_level and level != origin_level:
        rank = workflow.LEVEL_RANK
        if rank[level] > rank[origin_level]:
            return "referred_up"
    return stage


def public_stage(receipt: Receipt, case: Case | None = None) -> dict:
    """{"stage": key, "stage_name": words, "reason": text or None} for a receipt.

    A self-report that has no case yet is 待核实 (or past its time limit, or declined with its
    reason); once verified, its receipt follows the case.
    """
    if receipt.case_id is None:
        # A resident's self-report (随手拍) that is not a case (yet): waiting for the cell's grid
        # worker, past its time limit, or declined with the reason the resident is shown.
        report = db.session.get(SelfReport, receipt.self_report_id)
        stage = SELF_REPORT_STAGES.get(
            report.state if report else "pending", "pending_verification"
        )
        reason = (
            report.decline_reason if report is not None and report.state == "declined" else None
        )
        return {"stage": stage, "stage_name": gettext(STAGES[stage]), "reason": reason}
    case = case or db.session.get(Case, receipt.case_id)
    stage = case_stage(case.state, case.level, case.origin_level)
    return {"stage": stage, "stage_name": gettext(STAGES[stage]), "reason": None}


# The statements of a progress answer, built once with bound parameters (building them per
# request cost more than running them; issue 18).
# The lead unit of an open dispatch and the level's region name in one statement (the region is
# read by id, not by loading the case's three regions).
HANDLING_UNIT = select(
    select(Department.name)
    .join(Dispatch, Dispatch.department_id == Department.id)
    .where(
        Dispatch.case_id == bindparam("case_id"),
        Dispatch.role == "lead",
        Dispatch.state.in_(OPEN_DISPATCH_STATES),
    )
    .limit(1)
    .scalar_subquery(),
    select(Region.name).where(Region.id == bindparam("region_id")).scalar_subquery(),
)
TIMELINE = (
    select(CaseEvent.at, CaseEvent.to_state, CaseEvent.to_level)
    .where(CaseEvent.case_id == bindparam("case_id"), CaseEvent.to_state.isnot(None))
    .order_by(CaseEvent.id)
)
CURRENT_RATING = select(Rating).where(
    Rating.case_id == bindparam("case_id"), Rating.resolved_at == bindparam("resolved_at")
)


def unit_words(unit: str | None, region: str | None, level: str, translate=gettext) -> str:
    """Who handles the matter, as an organisation: the lead unit of an open dispatch (`unit`),
    else the region of the case's current level."""
    if unit:
        return unit
    return f"{region}（{translate(workflow.LEVEL_NAMES[level])}）"


def handling_unit(case: Case) -> str:
    """The handling unit's words for `case` (HANDLING_UNIT: one statement)."""
    region_id = {"village": case.village_id, "town": case.town_id, "county": case.county_id}
    unit, region = db.session.execute(
        HANDLING_UNIT, {"case_id": case.id, "region_id": region_id[case.level]}
    ).one()
    return unit_words(unit, region, case.level)


def steps(rows, origin_level: str | None, translate=gettext) -> list[dict]:
    """The timeline from (at, to_state, to_level) rows in order: the dates the stage changed,
    with the stage's words only (no actors, no notes)."""
    out: list[dict] = []
    for at, state, level in rows:
        stage = case_stage(state, level, origin_level)
        if out and out[-1]["stage"] == stage:
            continue
        out.append({"at": at, "stage": stage, "stage_name": translate(STAGES[stage])})
    return out


def timeline(case: Case) -> list[dict]:
    """The case's timeline (TIMELINE: one statement)."""
    return steps(db.session.execute(TIMELINE, {"case_id": case.id}).all(), case.origin_level)


def current_rating(case: Case) -> Rating | None:
    """The resident's rating of the case's current resolution, if any."""
    if case.resolved_at is None:
        return None
    return db.session.scalar(CURRENT_RATING, {"case_id": case.id, "resolved_at": case.resolved_at})


NOT_READ = object()


def can_rate(case: Case, rating: Rating | None | object = NOT_READ) -> bool:
    """Resolved (and not yet rated in this round of resolution). `rating`: the case's
    current_rating (None for none, or its code) when the caller has read it already."""
    if case.state not in RATEABLE_STATES or case.resolved_at is None:
        return False
    return (current_rating(case) if rating is NOT_READ else rating) is None


def blank(number: str, stage: dict) -> dict:
    """The answer's every key, for a receipt at `stage` with no case (yet)."""
    return {
        "number": number,  # what the resident typed: the one to rate with
        "case_number": None,
        **stage,
        "unit": None,
        "accept_due": None,
        "resolve_due": None,
        "reported_on": None,
        "resolved_on": None,
        "public_outcome": None,
        "can_rate": False,
        "rating": None,
        "timeline": [],
    }


def case_answer(
    number: str, case, unit: str, rating: str | None, timeline_steps: list[dict], translate=gettext
) -> dict:
    """The public answer for a receipt of `case` (an ORM case or any object with its columns):
    `unit` from unit_words, `rating` the current resolution's rating code or None, the steps
    from `steps`. The one place that says what a resident sees of a case; the lookup outside
    Flask (app/resident/fast.py) builds its answer here too."""
    stage = case_stage(case.state, case.level, case.origin_level)
    open_now = case.state in workflow.OPEN_STATES
    return blank(
        number, {"stage": stage, "stage_name": translate(STAGES[stage]), "reason": None}
    ) | {
        "case_number": case.number,
        "unit": unit,
        "accept_due": case.accept_due if case.state == "reported" else None,
        "resolve_due": case.resolve_due if open_now else None,
        "reported_on": clock.local_date(case.reported_at),
        "resolved_on": clock.local_date(case.resolved_at) if case.resolved_at else None,
        "public_outcome": case.public_outcome
        if case.resolved_at or case.state == "rejected"
        else None,
        "can_rate": can_rate(case, rating),
        "rating": translate(RATING_NAMES[rating]) if rating else None,
        "timeline": timeline_steps,
    }


def progress(receipt: Receipt) -> dict:
    """The public answer for a receipt: only what the resident may see."""
    case = db.session.get(Case, receipt.case_id) if receipt.case_id is not None else None
    if case is None:
        return blank(receipt.number, public_stage(receipt, case))
    rating = current_rating(case)
    return case_answer(
        receipt.number,
        case,
        handling_unit(case),
        rating.rating if rating else None,
        timeline(case),
    )


def ratings_of(case_id: int) -> list[Rating]:
    """A case's residents' ratings, newest first (the case page shows them to staff)."""
    return list(
        db.session.scalars(
            select(Rating).where(Rating.case_id == case_id).order_by(Rating.id.desc())
        )
    )
