"""Case operations: report, act on the workflow, sweep the clocks.

Services flush; the caller (a request or a command) commits. Error messages are translated
(gettext, in the request's language; Chinese outside a request); `gettext(NAME)` translates a
domain name (state, kind, level, role, action) that app/web/labels.py marks for translation.
What is stored (timeline notes, titles) stays in Chinese, whoever's language made it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext
from flask_babel import gettext as _
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm.attributes import set_committed_value

from app import pii
from app import scoping
from app.accounts.models import ROLE_NAMES
from app.accounts.models import User
from app.audit import services as audit
from app.cameras import queries as camera_queries
from app.cases import notices
from app.cases import queries
from app.cases import registration
from app.cases import schemas
from app.cases import workflow
from app.cases.models import Agreement
from app.cases.models import Case
from app.cases.models import CaseEvent
from app.cases.models import FollowUp
from app.cases.models import IdempotencyKey
from app.cases.models import Party
from app.core import clock
from app.core import transaction
from app.core.actions import Step
from app.core.errors import Conflict
from app.core.errors import Forbidden
from app.core.errors import Invalid
from app.core.errors import NotFound
from app.core.errors import PreconditionRequired
from app.core.errors import stale
from app.deadlines import policy
from app.deadlines import years
from app.deadlines.calendar import coverage_warning
from app.deadlines.calendar import due_after
from app.deadlines.calendar import extend
from app.dispatch.models import OPEN_DISPATCH_STATES
from app.dispatch.models import Dispatch
from app.extensions import db
from app.geo.placement import place_point
from app.notify import services as notify
from app.ops.models import MaintenanceTask
from app.resident import services as resident
from app.risks import queries as risk_queries
from app.scoping import scope_for
from app.warnings import jobs as warning_jobs

# --- reporting -----------------------------------------------------------------------------------


def report(data: dict, user) -> Case:
    """File a new case at a point (already converted to WGS84), with its parties."""
    placement = place_point(
        data["lon"],
        data["lat"],
        scope_for(user),
        field="location",
        outside_scope=_("该点不在您的辖区内：只能上报本辖区的事件"),
    )
    risk_point_id = data.get("risk_point_id")
    if risk_point_id is not None and risk_queries.get_visible(risk_point_id, user) is None:
        raise Invalid(
            _("关联的风险点不存在"),
            {"json": {"risk_point_id": [_("风险点不存在或不在您的辖区内")]}},
        )
    camera_id = camera_of(data, user)
    # Above the county (a 市/省 official) a case is still filed at county level at most.
    actor_level = user.region.level if user.region.level in workflow.LEVEL_RANK else "county"
    level = data.get("level") or actor_level
    if workflow.LEVEL_RANK[level] > workflow.LEVEL_RANK[actor_level]:
        raise Invalid(
            _("不能在高于本人辖区的层级立案"),
            {
                "json": {
                    "level": [
                        _("最高为%(level)s", level=gettext(workflow.LEVEL_NAMES[actor_level]))
                    ]
                }
            },
        )
    if data["kind"] == "incident" and not data.get("complexity"):
        data["complexity"] = "ordinary"
    moment = clock.now()
    case = Case(
        kind=data["kind"],
        category=data["category"],
        source=data["source"],
        complexity=data.get("complexity") if data["kind"] == "incident" else None,
        title=data["title"],
        description=data["description"],
        occurred_at=data.get("occurred_at"),
        reported_at=moment,
        # The reporter by id: the user need not be loaded into this session (nor loaded again).
        reporter_id=user.id,
        location=from_shape(Point(data["lon"], data["lat"]), srid=4326),
        grid_cell_id=placement.cell.id,
        village_id=placement.village.id,
        town_id=placement.town.id if placement.town is not None else None,
        county_id=placement.county.id,
        region_code=placement.cell.code,
        origin_level=level,
        level=level,
        max_level=level,
        state="reported",
        group_visit=bool(data.get("group_visit")),
        risk_point_id=data.get("risk_point_id"),
        camera_id=camera_id,
        review_stage="none",
        supervision="none",
        warning="none",
        extension_days=0,
    )
    # Clocks read the policy; the number comes last, with the row (app/cases/registration.py).
    start_clocks_on_report(case, moment)
    event = CaseEvent(
        actor_id=user.id,
        action="report",
        from_state=None,
        to_state="reported",
        from_level=None,
        to_level=level,
        note=data.get("note"),
        data={},
    )
    parties = [new_party(party) for party in data.get("parties", [])]
    # The number is a lock held until commit (app/cases/registration.py): what does not need it
    # comes first. 研判预警: the worker evaluates what this case touches.
    case.id = registration.new_id()
    warning_jobs.defer_scan(case.id)
    county_code, year = placement.county.code[:6], clock.local_date(moment).year
    # The receipt (回执, docs/resident.md) and the audit entry go in the number's statement: its
    # code is made now (answered once, by the adapters), the entry names the number drawn there.
    code, code_hash = resident.registration_code(county_code, year)
    marker = audit.number_marker()
    audit.record(
        "cases.report",
        object_type="case",
        object_id=marker,
        region_code=case.region_code,
        detail={"kind": case.kind, "level": level},
    )
    registration.insert_new(
        case,
        event,
        parties,
        county_code,
        year,
        receipt_hash=code_hash,
        issued_by_id=user.id,
        marker=marker,
    )
    set_committed_value(event, "actor", user)
    for name, region in (
        ("grid_cell", placement.cell),
        ("village", placement.village),
        ("town", placement.town),
        ("county", placement.county),
    ):
        set_committed_value(case, name, region)
    if (flagged := flag_same_matter(case, user)) is not None:
        db.session.flush()
        # The timeline is the report's event and this one: known, not loaded.
        set_committed_value(case, "events", [*case.events, flagged])
    # Nor has a new case an agreement or a follow-up yet (the answer reads them without a query).
    set_committed_value(case, "agreement", None)
    set_committed_value(case, "follow_ups", [])
    case.receipt = resident.registered_receipt(case, code, data.get("parties", []))
    return case


def camera_of(data: dict, user) -> int | None:
    """The id of the camera a 视频监控 report names (by id or device code): one the reporter
    may see, else 422 naming the field (a camera elsewhere answers like a missing one)."""
    field = "camera_id" if "camera_id" in data else "camera_code" if "camera_code" in data else None
    if field is None:
        return None
    camera_id = (
        data["camera_id"]
        if field == "camera_id"
        else camera_queries.id_of_code(data["camera_code"])
    )
    if not camera_id or camera_queries.get_visible(camera_id, user) is None:
        message = _("摄像机不存在或不在您的辖区内")
        raise Invalid(_("关联的摄像机不存在"), {"json": {field: [message]}})
    return camera_id


PARTY_COLUMNS = (
    "role",
    "name_enc",
    "id_number_enc",
    "phone_enc",
    "address_enc",
    "name_masked",
    "id_number_masked",
    "phone_masked",
    "address_masked",
    "name_hash",
    "id_number_hash",
    "phone_hash",
)


def new_party(data: dict) -> Party:
    """A party with encrypted values, masked copies and keyed hashes."""
    return Party(
        role=data["role"],
        name_enc=pii.encrypt(data["name"]),
        id_number_enc=pii.encrypt(data.get("id_number")),
        phone_enc=pii.encrypt(data.get("phone")),
        address_enc=pii.encrypt(data.get("address")),
        name_masked=pii.mask_name(data["name"]),
        id_number_masked=pii.mask_id_number(data.get("id_number")),
        phone_masked=pii.mask_phone(data.get("phone")),
        address_masked=pii.mask_address(data.get("address")),
        name_hash=pii.keyed_hash(data["name"]),
        id_number_hash=pii.keyed_hash(data.get("id_number")),
        phone_hash=pii.keyed_hash(data.get("phone")),
    )


def reveal(case: Case, party: Party, purpose: str, reason: str | None = None) -> dict:
    """A party's full values; every reveal is audited with its purpose (pii.REVEAL_PURPOSES)."""
    if case.deidentified_at or case.archived_at:
        raise Conflict(_("该事件已去标识化或归档，不再处理个人信息"))
    audit.record(
        "cases.reveal",
        object_type="party",
        object_id=party.id,
        region_code=case.region_code,
        detail={"case": case.number, "purpose": purpose, "reason": reason},
    )
    return {
        "id": party.id,
        "role": party.role,
        "name": pii.decrypt(party.name_enc),
        "id_number": pii.decrypt(party.id_number_enc),
        "phone": pii.decrypt(party.phone_enc),
        "address": pii.decrypt(party.address_enc),
    }


# --- the same matter (信访工作条例 第十九条) ----------------------------------------------------

SAME_MATTER_METRES = 500
SAME_MATTER_SQL = text(
    """
    SELECT c.id, c.number
      FROM cases c
     WHERE c.kind = 'petition' AND c.category = :category
       AND NOT c.id = ANY(:chain) AND NOT coalesce(c.parent_id, 0) = ANY(:chain)
       AND (c.village_id = :village
            OR ST_DWithin(c.location::geography,
                          (SELECT location FROM cases WHERE id = :case)::geography, :metres))
       AND EXISTS (SELECT 1 FROM parties p
                    WHERE p.case_id = c.id AND p.role = 'applicant'
                      AND (p.id_number_hash = ANY(:hashes) OR p.phone_hash = ANY(:hashes)))
       AND ((c.state = ANY(:open_states)
             AND array_position(:levels, c.level) <= array_position(:levels, :level))
            OR (c.review_stage = 're_review' AND c.state = ANY(:settled_states)))
     ORDER BY c.id
     LIMIT 1
    """
)


def same_matter(case: Case):
    """The earlier case of the likely same matter, or None (信访工作条例 第十九条).

    Same petitioner (an applicant's keyed ID-number hash, else phone hash, as the repeat
    counts), same category, same place (the same village or within 500 m), and the earlier
    matter is being handled at this level or below, or its 复核 is done. The case's own
    复查/复核 chain is not another matter.
    """
    hashes = [
        p.id_number_hash or p.phone_hash
        for p in case.parties
        if p.role == "applicant" and (p.id_number_hash or p.phone_hash)
    ]
    if case.kind != "petition" or not hashes:
        return None
    chain, node = [case.id], case.parent
    while node is not None:
        chain.append(node.id)
        node = node.parent
    return db.session.execute(
        SAME_MATTER_SQL,
        {
            "category": case.category,
            "chain": chain,
            "village": case.village_id,
            "case": case.id,
            "metres": SAME_MATTER_METRES,
            "hashes": hashes,
            "open_states": sorted(workflow.OPEN_STATES),
            "settled_states": sorted(workflow.SETTLED_STATES),
            "levels": list(workflow.LEVEL_RANK),
            "level": case.level,
        },
    ).first()


def flag_same_matter(case: Case, actor) -> CaseEvent | None:
    """Record a likely same matter found at report or at a new level: the handler decides.
    Returns the timeline entry it added, if any."""
    if case.same_matter_decision == "different":
        return None
    earlier = same_matter(case)
    if earlier is None:
        return None
    case.same_matter_of_id = earlier.id
    case.same_matter_decision = "pending"
    return add_event(
        case,
        actor,
        "same_matter",
        case.state,
        case.state,
        case.level,
        case.level,
        f"疑似与 {earlier.number} 为同一信访事项，待判断（信访工作条例 第十九条）",
        {"earlier": earlier.number},
    )


def _flag_again(case_id: int, user_id: int) -> None:
    """flag_same_matter for a case and user loaded afresh (after the request's rollback)."""
    case = db.session.get(Case, case_id)
    if case.same_matter_decision is None:
        flag_same_matter(case, db.session.get(User, user_id))
        db.session.flush()


def same_matter_refusal(number: str):
    """The 409 of an acceptance while a likely same matter awaits the decision."""
    return Conflict(
        _(
            "疑似与 %(number)s 为同一信访事项：请先判断——不予受理，或确认不是同一事项"
            "（信访工作条例 第十九条）",
            number=number,
        ),
        {"same_matter": number, "allowed_actions": ["reject", "confirm_different_matter"]},
    )


# --- idempotent reports --------------------------------------------------------------------------


def claim_key(user, key: str, fingerprint: str) -> IdempotencyKey | None:
    """Record an Idempotency-Key (None), or answer the row of the request that holds it.

    A concurrent duplicate blocks on the key's unique index until the first commits (then it
    replays) or rolls back (then it proceeds itself): never a second case.
    """
    claimed = db.session.execute(
        insert(IdempotencyKey)
        .values(user_id=user.id, key=key, request_hash=fingerprint)
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.key)
    ).scalar()
    if claimed is not None:
        return None
    return db.session.get(IdempotencyKey, (user.id, key), populate_existing=True)


def remember_answer(user, key: str, status: int, body: dict) -> None:
    """Keep the answer of a claimed key, for its retries to replay (committed with the case)."""
    db.session.execute(
        IdempotencyKey.__table__.update()
        .where(IdempotencyKey.user_id == user.id, IdempotencyKey.key == key)
        .values(status=status, response=body)
    )


# --- clocks --------------------------------------------------------------------------------------


# The clocks a case keeps in `clock_rules` (the rule each started with and the years it was
# counted on without their notice): acceptance, resolution, and the two windows after it.
ACCEPT_CLOCK = "accept"
RESOLVE_CLOCK = "resolve"
REVIEW_WINDOW = "review_request"
JUDICIAL_WINDOW = "judicial"
# The states whose windows (复查 request, 司法确认 application) still run: a closed, rejected or
# withdrawn case has no running clock and so no warning.
WINDOW_STATES = ("resolved", "followed_up")


def run_clock(case: Case, name: str, rule: dict | None, start: dt.date, cal=None) -> dt.date | None:
    """Count clock `name` from `start` by `rule`, keep the rule on the case; its last day.

    One period from the start (民法典 第二百零一至二百零三条): an extension adds to the rule's
    days and is counted again from the same start, so only the lengthened period's last day
    rolls over (DOMAIN §4). `rule` None drops the clock.
    """
    rules = {k: v for k, v in (case.clock_rules or {}).items() if k != name}
    if rule is None:
        case.clock_rules = rules
        return None
    counted = due_after(start, rule["days"], rule["unit"], calendar=cal or years.calendar())
    rules[name] = {**rule, "years": sorted(counted.uncovered_years)}
    case.clock_rules = rules  # a new dict: JSONB changes in place are not tracked
    return counted.date


def start_clocks_on_report(
    case: Case, moment: dt.datetime, *, restart_resolution: bool = True
) -> None:
    """(Re)start the acceptance clock (and, for incidents, the resolution clock) at `moment`.

    An escalated incident keeps its resolution clock (`restart_resolution=False`): escalating
    does not clear an incident's lateness (DOMAIN §3.1 restarts the acceptance clock only).
    """
    day = clock.local_date(moment)
    rules = policy.current()  # the policy and calendar, read once for every clock below
    cal = rules.calendar
    accept = rules.spec(case.kind, case.level, policy.ACCEPT)
    case.accept_from = day if accept else None
    case.accept_due = run_clock(case, ACCEPT_CLOCK, accept, day, cal)
    if case.kind == "incident":
        if restart_resolution or case.resolve_due is None:
            rule = rules.spec(case.kind, case.level, policy.RESOLVE, case.complexity)
            case.resolve_from = day if rule else None
            case.resolve_due = run_clock(case, RESOLVE_CLOCK, rule, day, cal)
    elif case.review_stage != "none":
        which = policy.REVIEW_ANSWER if case.review_stage == "review" else policy.RE_REVIEW_DECISION
        rule = rules.spec(case.kind, case.level, which)
        case.resolve_from = day if rule else None
        case.resolve_due = run_clock(case, RESOLVE_CLOCK, rule, day, cal)
    else:
        case.resolve_from = case.resolve_due = run_clock(case, RESOLVE_CLOCK, None, day, cal)
    refresh_derived(case)


def _running(case: Case) -> list[tuple[str, dt.date | None, dt.date]]:
    """The running acceptance and resolution clocks: (name, start, last day)."""
    running = []
    if case.state == "reported" and case.accept_due:
        running.append((ACCEPT_CLOCK, case.accept_from, case.accept_due))
    resolving = case.state != "reported" or case.kind == "incident" or case.review_stage != "none"
    # 第三十六条: while a 听证 runs the 复核 clock is paused (its days are added when it ends).
    in_hearing = case.hearing_started_on is not None and case.hearing_ended_on is None
    if case.state in workflow.OPEN_STATES and case.resolve_due and resolving and not in_hearing:
        running.append((RESOLVE_CLOCK, case.resolve_from, case.resolve_due))
    return running


def refresh_derived(case: Case, on: dt.date | None = None) -> None:
    """next_due (the nearest running deadline), the yellow/red warning and the year warning.

    `clock_warning` names the years without an entered notice that a running clock or window
    was counted on; it goes once the year is entered (recount_clocks) or the clock stops.
    """
    on = on or clock.today()
    rules = case.clock_rules or {}
    running = _running(case)
    case.next_due = min((d for _n, _s, d in running), default=None)
    levels = [warning_for(s, d, on, rules.get(n)) for n, s, d in running]
    case.warning = "red" if "red" in levels else "yellow" if "yellow" in levels else "none"
    counted = [n for n, _s, _d in running]
    if case.state in WINDOW_STATES:
        counted += [
            n for n in (REVIEW_WINDOW, JUDICIAL_WINDOW) if not rules.get(n, {}).get("stopped")
        ]
    guessed = {y for n in counted for y in rules.get(n, {}).get("years", ())}
    case.clock_warning = coverage_warning(guessed) or None


def warning_for(
    start: dt.date | None, due_date: dt.date | None, on: dt.date, rule: dict | None = None
) -> str:
    """none / yellow / red (overdue) for one clock (DOMAIN §4 "Warnings").

    Yellow when the days left, today included, are ≤ the rule's share (20% by default) of the
    clock's period rounded up, at least 1: a 3-day clock on its last day, a 15-day one with 3
    days left, a 60-day one with 12. Without a kept rule the period is start → last day.
    """
    if due_date is None:
        return "none"
    if on > due_date:
        return "red"
    left = (due_date - on).days + 1
    if rule:
        threshold = policy.yellow_days(rule["days"], rule.get("percent"))
    else:
        threshold = policy.yellow_days(max((due_date - (start or on)).days, 1))
    return "yellow" if left <= threshold else "none"


# The clocks a dispatch keeps in its `clock_rules`: 签收 (sign), the 退回 window (return) and the
# report (办结反馈) deadline, each with the day it started ("from").
SIGN_CLOCK = "sign"
RETURN_CLOCK = "return"
REPORT_CLOCK = "report"


def _dispatch_running(d: Dispatch) -> list[tuple[str, dt.date | None, dt.date]]:
    """A dispatch's running clocks: (name, start, last day). Only the unit's clocks run."""
    rules = d.clock_rules or {}
    started = clock.local_date(d.dispatched_at) if d.dispatched_at else None

    def start(name: str) -> dt.date | None:
        day = rules.get(name, {}).get("from")
        return dt.date.fromisoformat(day) if day else started

    running = []
    if d.state == "sent" and d.sign_due:
        running.append((SIGN_CLOCK, start(SIGN_CLOCK), d.sign_due))
    if d.state in ("sent", "signed") and d.report_due:
        running.append((REPORT_CLOCK, start(REPORT_CLOCK), d.report_due))
    return running


def dispatch_clock(d: Dispatch, on: dt.date | None = None) -> tuple[str, dt.date | None]:
    """(warning, next_due) of a dispatch, by the case clocks' rule (`warning_for`)."""
    on = on or clock.today()
    rules = d.clock_rules or {}
    running = _dispatch_running(d)
    levels = [
        warning_for(s, due, on, rules.get(n) if "days" in rules.get(n, {}) else None)
        for n, s, due in running
    ]
    warning = "red" if "red" in levels else "yellow" if "yellow" in levels else "none"
    return warning, min((due for _n, _s, due in running), default=None)


def refresh_dispatch(d: Dispatch, on: dt.date | None = None) -> None:
    """Set a dispatch's next_due and yellow/red warning from its running clocks."""
    d.warning, d.next_due = dispatch_clock(d, on)


def derived_rules(case: Case) -> dict:
    """The rules of a case's clocks as the policy gives them now (cases from before 0009)."""
    rules = dict(case.clock_rules or {})
    if case.accept_from and ACCEPT_CLOCK not in rules:
        rules[ACCEPT_CLOCK] = policy.spec(case.kind, case.level, policy.ACCEPT)
    if case.resolve_from and RESOLVE_CLOCK not in rules:
        if case.kind == "incident":
            name, variant = policy.RESOLVE, case.complexity
        elif case.review_stage == "review":
            name, variant = policy.REVIEW_ANSWER, None
        elif case.review_stage == "re_review":
            name, variant = policy.RE_REVIEW_DECISION, None
        else:
            name, variant = policy.RESOLVE, None
        rule = policy.spec(case.kind, case.level, name, variant)
        if rule is not None:
            rules[RESOLVE_CLOCK] = {**rule, "days": rule["days"] + (case.extension_days or 0)}
    if case.review_request_due and case.resolved_at and REVIEW_WINDOW not in rules:
        which = policy.REVIEW_REQUEST if case.review_stage == "none" else policy.RE_REVIEW_REQUEST
        rules[REVIEW_WINDOW] = policy.spec(case.kind, case.level, which)
    if case.agreement is not None and JUDICIAL_WINDOW not in rules:
        rule = policy.spec("dispute", case.level, policy.JUDICIAL_WINDOW)
        if rule is not None and (
            case.agreement.judicial_applied_on or case.agreement.judicial_outcome != "pending"
        ):
            rule = {**rule, "stopped": True}
        rules[JUDICIAL_WINDOW] = rule
    return {k: v for k, v in rules.items() if v is not None}


def recount_clocks(case: Case, cal=None) -> dict[str, list]:
    """Count a case's clocks again from their starts with their kept rules; what changed.

    Used when a year's notice is entered and by `flask cases recompute` (migration 0009): the
    answer maps each changed field to [old, new] (ISO dates), for the timeline.
    """
    cal = cal or years.calendar()
    agreement = case.agreement
    before = _clock_fields(case)
    rules = derived_rules(case)
    case.clock_rules = rules
    if case.accept_from and case.accept_due and ACCEPT_CLOCK in rules:
        case.accept_due = run_clock(case, ACCEPT_CLOCK, rules[ACCEPT_CLOCK], case.accept_from, cal)
    if case.resolve_from and case.resolve_due and RESOLVE_CLOCK in rules:
        rule = rules[RESOLVE_CLOCK]
        case.resolve_due = run_clock(case, RESOLVE_CLOCK, rule, case.resolve_from, cal)
    if case.review_request_due and case.resolved_at and REVIEW_WINDOW in rules:
        start = clock.local_date(case.resolved_at)
        case.review_request_due = run_clock(case, REVIEW_WINDOW, rules[REVIEW_WINDOW], start, cal)
    if agreement is not None and JUDICIAL_WINDOW in rules:
        window = run_clock(case, JUDICIAL_WINDOW, rules[JUDICIAL_WINDOW], agreement.signed_on, cal)
        agreement.judicial_window_due = window
    refresh_derived(case)
    after = _clock_fields(case)
    return {k: [_iso(before[k]), _iso(after[k])] for k in before if before[k] != after[k]}


def _clock_fields(case: Case) -> dict:
    agreement = case.agreement
    return {
        "accept_due": case.accept_due,
        "resolve_due": case.resolve_due,
        "review_request_due": case.review_request_due,
        "judicial_window_due": agreement.judicial_window_due if agreement else None,
        "clock_warning": case.clock_warning,
    }


def _iso(value):
    return value.isoformat() if isinstance(value, dt.date) else value


def recompute_open(reason: str, actor=None) -> int:
    """Recount the clocks of every case with a running clock or window; each change on its
    timeline (a `recompute` event with the old and new dates). How many cases changed."""
    cal = years.calendar()
    stopped = ("closed", "rejected", "withdrawn")
    ids = db.session.scalars(select(Case.id).where(Case.state.not_in(stopped))).all()
    changed = 0
    for case_id in ids:
        case = db.session.get(Case, case_id)
        with db.session.no_autoflush:
            changes = recount_clocks(case, cal)
        if changes:
            # A recount is derived, not an edit by anyone: the version users hold stays valid.
            add_event(
                case,
                actor,
                "recompute",
                case.state,
                case.state,
                case.level,
                case.level,
                reason,
                {"changes": changes},
            )
            changed += 1
    db.session.flush()
    return changed


@years.year_saved.connect
def _year_entered(year: int, actor=None, **_extra) -> None:
    """A year's notice entered: running clocks are recounted on it (the warning goes)."""
    recompute_open(f"{year} 年节假日安排已录入，期限重新计算", actor)


# --- the workflow --------------------------------------------------------------------------------


def add_event(
    case, actor, action, from_state, to_state, from_level, to_level, note=None, data=None
):
    """Append to the case's timeline."""
    event = CaseEvent(
        case_id=case.id,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        from_level=from_level,
        to_level=to_level,
        note=note,
        data={k: v for k, v in (data or {}).items() if v is not None},
    )
    db.session.add(event)
    return event


def stale_message() -> str:
    """The 409's message when someone else changed the case first."""
    return _("该事件已被他人修改，请刷新后重试")


def check_before_fields(case: Case, user, action: str, version: int | None) -> None:
    """The checks that come before field validation: action, role, version, state, level."""
    r = workflow.rule(action)
    if r is None:
        raise NotFound(
            _(
                "未知操作 %(action)s；可用操作：%(actions)s",
                action=action,
                actions=", ".join(workflow.WORKFLOW),
            ),
        )
    if user.role not in r.roles and not r.reporter_may:
        raise Forbidden(
            _("%(role)s不能执行“%(action)s”", role=_role_name(user.role), action=gettext(r.name)),
        )
    if version is None:
        raise PreconditionRequired(
            _("缺少案件版本：请在 If-Match 头或 version 字段中提供"),
            {"json": {"version": [_("必填")]}},
        )
    if version != case.version:
        raise stale(version, case.version, stale_message())
    if not workflow.state_ok(r, case):
        allowed = workflow.allowed_actions(case, user)
        raise Conflict(
            _(
                "当前状态（%(state)s）不能执行“%(action)s”",
                state=gettext(workflow.STATE_NAMES[case.state]),
                action=gettext(r.name),
            ),
            {"state": case.state, "allowed_actions": allowed},
        )
    if not workflow.permits(r, case, user):
        raise Forbidden(
            _(
                "“%(action)s”须由%(levels)s的%(roles)s办理",
                action=gettext(r.name),
                levels=_level_text(r.levels, case.level),
                roles=_("、").join(_role_name(x) for x in sorted(r.roles)),
            ),
        )
    if not queries.unit_holds(case, user):
        raise Forbidden(
            _("本单位没有在办的主办或协办交办：只能查看此事件"),
            {"dispatch": [_("须本单位主办或协办、且交办未退回、未撤回、未办结")]},
        )


def act(case: Case, user, action: str, data: dict, version: int | None) -> Case:
    """Apply one workflow action, in the documented order of checks (docs/workflow.md)."""
    check_before_fields(case, user, action, version)
    r = workflow.rule(action)
    handler = HANDLERS[action]
    before_state, before_level, before_handler = case.state, case.level, case.handler_id
    # One UPDATE per action (one version step): handlers query the policy, which must not
    # flush half-made changes.
    with db.session.no_autoflush:
        note = handler(case, user, data)
        if r.to_state is not None:
            case.state = r.to_state
        case.updated_at = clock.now()
        refresh_derived(case)
    event_data = {k: v for k, v in data.items() if k not in ("note", "reason", "version")}
    add_event(
        case,
        user,
        action,
        before_state,
        case.state,
        before_level,
        case.level,
        data.get("note") or data.get("reason") or note,
        _jsonable(event_data),
    )
    audit.record(
        f"cases.{action}",
        object_type="case",
        object_id=case.number,
        region_code=case.region_code,
        detail={"from": before_state, "to": case.state, "level": case.level},
    )
    db.session.flush()
    notices.after_action(case, user, action, data, before_level, before_handler)
    # The answer shows the new timeline and agreement (read back inside the transaction).
    db.session.refresh(case)
    return case


def action_step(case: Case, user, action: str, version: int | None) -> Step:
    """One workflow action as app.core.actions.run takes it: the API and the case page alike.

    visible (the caller loaded `case` in scope) → check → load the body → act → flush; a
    version gone stale at flush is the runner's 409.
    """
    return Step(
        schema=schemas.ACTION_SCHEMAS[action],
        check=lambda: check_before_fields(case, user, action, version),
        apply=lambda subject, data: act(subject, user, action, data, version),
    )


def _jsonable(data: dict) -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dt.date | dt.datetime):
            value = value.isoformat()
        elif isinstance(value, dict):
            value = _jsonable(value)
        out[key] = value
    return out


def _role_name(role: str) -> str:
    return gettext(ROLE_NAMES[role]) if role in ROLE_NAMES else role


def _level_text(levels: str, case_level: str) -> str:
    name = gettext(workflow.LEVEL_NAMES[case_level])
    if levels == "case":
        return _("案件所在层级（%(level)s）", level=name)
    if levels == "above":
        return _("高于%(level)s", level=name)
    if levels == "case_up":
        return _("%(level)s或更高层级", level=name)
    return _("辖区内")


def _accept(case, user, data):
    if case.kind == "petition" and case.same_matter_decision != "different":
        earlier = case.same_matter_of if case.same_matter_decision == "pending" else None
        if earlier is None and (earlier := same_matter(case)) is not None:
            # Found only now: the flag outlives this refused acceptance, so that the handler
            # can decide (confirm_different_matter or reject) on the next try.
            case_id, user_id = case.id, user.id
            transaction.keep(lambda: _flag_again(case_id, user_id))
        if earlier is not None:
            raise same_matter_refusal(earlier.number)
    moment = clock.now()
    case.accepted_at = moment
    case.accepted_on_time = case.accept_due is None or clock.local_date(moment) <= case.accept_due
    if case.kind != "incident" and case.review_stage == "none":
        rule = policy.spec(case.kind, case.level, policy.RESOLVE)
        if rule is not None:
            case.resolve_from = clock.local_date(moment)
            case.resolve_due = run_clock(case, RESOLVE_CLOCK, rule, case.resolve_from)


# Grounds whose notice must name where to turn (信访工作条例 第二十三条).
GROUNDS_NAMING_A_BODY = ("outside_remit", "other_route", "other")
OTHER_ROUTES = ("诉讼", "仲裁", "行政复议")  # 第十九、三十一条


def _reject(case, user, data):
    ground = data.get("ground")
    routes = data.get("routes_told") or []
    errors = {}
    if case.kind == "petition":
        if not ground:
            errors["ground"] = [_("信访事项不予受理须写明依据（信访工作条例 第二十三条）")]
        if not data.get("notice"):
            errors["notice"] = [_("须出具不予受理告知书（书面告知，第二十三条）")]
        if ground in GROUNDS_NAMING_A_BODY and not data.get("competent_body"):
            errors["competent_body"] = [_("须写明有权处理的机关（第二十三条）")]
        if ground in GROUNDS_NAMING_A_BODY and not routes:
            errors["routes_told"] = [_("须写明告知信访人的途径（第二十三条）")]
    if ground == "other_route" and not set(routes) & set(OTHER_ROUTES):
        errors["routes_told"] = [
            _("应通过诉讼、仲裁、行政复议解决的事项须告知途径：%(v)s", v="、".join(OTHER_ROUTES))
        ]
    if ground == "same_matter" and case.same_matter_of_id is None:
        earlier = same_matter(case)
        if earlier is None:
            errors["ground"] = [_("未发现同一信访事项（第十九条）")]
        else:
            case.same_matter_of_id = earlier.id
    if errors:
        raise Invalid(_("不予受理信息不完整"), {"json": errors})
    moment = clock.now()
    case.accepted_on_time = case.accept_due is None or clock.local_date(moment) <= case.accept_due
    case.closed_at = moment
    case.outcome_note = data["reason"]
    case.rejection_ground = ground
    case.routes_told = routes
    case.competent_body = data.get("competent_body")
    case.rejection_notice = data.get("notice")
    if ground == "same_matter":
        case.same_matter_decision = "refused"


def _start(case, user, data):
    return None


def _resolve(case, user, data):
    outcome = data["outcome"]
    allowed = workflow.OUTCOMES[case.kind]
    if outcome not in allowed:
        raise Invalid(
            _("办结结果不适用于此类事件"),
            {
                "json": {
                    "outcome": [
                        _(
                            "%(kind)s可选：%(values)s",
                            kind=gettext(workflow.KIND_NAMES[case.kind]),
                            values=", ".join(allowed),
                        )
                    ]
                }
            },
        )
    errors = {}
    if case.kind == "petition" and not data.get("reply"):
        errors["reply"] = [_("信访事项办结须出具书面答复（处理意见书，信访工作条例 第三十二条）")]
    if case.kind == "dispute" and outcome == "agreement" and not data.get("agreement"):
        errors["agreement"] = [_("调解成功须录入调解协议（人民调解法 第二十九条）")]
    if case.kind == "dispute" and outcome == "failed" and not data.get("routes_informed"):
        errors["routes_informed"] = [
            _("调解不成须告知当事人其他途径：诉讼、仲裁、行政（第二十六条）")
        ]
    moment = clock.now()
    agreement = data.get("agreement")
    if agreement:
        errors |= agreement_date_errors(case, agreement)
    received = data.get("reply_received_on")
    if received and case.kind == "petition":
        errors |= received_errors(received, clock.local_date(moment))
    if errors:
        raise Invalid(_("办结信息不完整"), {"json": errors})
    case.resolved_at = moment
    case.resolved_on_time = case.resolve_due is None or clock.local_date(moment) <= case.resolve_due
    case.outcome = outcome
    case.outcome_note = data.get("note")
    if data.get("public_outcome"):
        case.public_outcome = data["public_outcome"]
    case.reply = data.get("reply")
    if case.kind == "petition":
        case.reply_received_on = received if received else None
        open_review_window(case, received or moment)
    if agreement:
        oral = agreement.get("form") == "oral"
        if not oral and not (agreement["signed_by_parties"] and agreement["signed_by_mediator"]):
            raise Invalid(
                _("调解协议须经双方当事人和调解员签名后生效（第二十九、三十条）"),
                {"json": {"agreement": [_("signed_by_parties 与 signed_by_mediator 均须为 true")]}},
            )
        rule = None if oral else policy.spec("dispute", case.level, policy.JUDICIAL_WINDOW)
        window = run_clock(case, JUDICIAL_WINDOW, rule, agreement["signed_on"])
        # A reopened dispute settled again: the new agreement replaces the old one (the
        # timeline keeps the history); performance and 司法确认 start over.
        row = case.agreement or Agreement(case_id=case.id)
        row.form = "oral" if oral else "written"
        row.facts = agreement.get("facts")
        row.responsibilities = agreement.get("responsibilities")
        row.terms = agreement["terms"]
        row.agreed_by = agreement.get("agreed_by")
        row.performance_method = agreement.get("performance_method")
        row.performance_due = agreement.get("performance_due")
        row.signed_on = agreement["signed_on"]
        row.signed_by_parties = row.signed_by_mediator = None if oral else True
        # An oral agreement (第二十八条) has no 司法确认 window: confirmation needs the writing.
        row.judicial_window_due = None if oral else (window or agreement["signed_on"])
        row.performed = row.performed_on = row.performed_late = row.judicial_applied_on = None
        row.judicial_outcome = "pending"
        db.session.add(row)


def agreement_date_errors(case, agreement: dict) -> dict:
    """An agreement's dates, checked (errors under `agreement`, naming the field)."""
    today = clock.today()
    reported_on = clock.local_date(case.reported_at)
    signed, due = agreement["signed_on"], agreement.get("performance_due")
    errors = {}
    if signed > today:
        errors["signed_on"] = [_("不能晚于今天（%(d)s）", d=today.isoformat())]
    elif signed < reported_on:
        errors["signed_on"] = [_("不能早于事件登记之日（%(d)s）", d=reported_on.isoformat())]
    if due is not None and due < signed:
        errors["performance_due"] = [_("不能早于签订日期（%(d)s）", d=signed.isoformat())]
    return {"agreement": errors} if errors else {}


def received_errors(received, resolved_on, field: str = "reply_received_on") -> dict:
    """The day a reply was received: not before it was given, not in the future."""
    if received < resolved_on:
        return {field: [_("不能早于答复之日（%(d)s）", d=resolved_on.isoformat())]}
    if received > clock.today():
        return {field: [_("不能晚于今天（%(d)s）", d=clock.today().isoformat())]}
    return {}


def open_review_window(case, start: dt.date | dt.datetime) -> None:
    """The 复查 (or 复核) request window, from the day the reply was received (第三十五条).

    Until that day is recorded the window runs from the reply; recording it recounts it. After
    复核 there is no further request (第三十六条).
    """
    which = policy.REVIEW_REQUEST if case.review_stage == "none" else policy.RE_REVIEW_REQUEST
    rule = None if case.review_stage == "re_review" else policy.spec(case.kind, case.level, which)
    day = clock.local_date(start) if isinstance(start, dt.datetime) else start
    case.review_request_due = run_clock(case, REVIEW_WINDOW, rule, day)


def _follow_up(case, user, data):
    db.session.add(
        FollowUp(
            case_id=case.id,
            at=clock.now(),
            by_id=user.id,
            method=data["method"],
            satisfaction=data["satisfaction"],
            note=data.get("note"),
        )
    )


def _close(case, user, data):
    case.closed_at = clock.now()
    # A closed case leaves the dashboards: its supervision (督办) ends with it.
    case.supervision = "none"
    case.supervision_due = None


def _escalate(case, user, data):
    up = workflow.next_level(case.level)
    if up is None:
        raise Conflict(
            _("县级事件不能再提级"), {"allowed_actions": workflow.allowed_actions(case, user)}
        )
    _move(case, up, user)


def _assign_down(case, user, data):
    target = data["to_level"]
    if workflow.LEVEL_RANK[target] >= workflow.LEVEL_RANK[case.level]:
        raise Invalid(
            _("只能交办给下级"),
            {
                "json": {
                    "to_level": [
                        _("须低于%(level)s", level=gettext(workflow.LEVEL_NAMES[case.level]))
                    ]
                }
            },
        )
    _move(case, target, user)


def _move(case, level, actor=None):
    """Change level; the case returns to `reported` and the acceptance clock restarts.

    The handler (承办人) was the old level's: nobody is named at the new one until someone
    claims it or is assigned, and the new level's mediators and officials are told.
    """
    up = workflow.LEVEL_RANK[level] > workflow.LEVEL_RANK[case.level]
    case.level = level
    case.handler_id = None
    if workflow.LEVEL_RANK[level] > workflow.LEVEL_RANK[case.max_level]:
        case.max_level = level
    case.state = "reported"
    case.accepted_at = None
    case.accepted_on_time = None
    start_clocks_on_report(case, clock.now(), restart_resolution=case.kind != "incident")
    # 第十九条: a higher level does not accept a matter still handled below.
    flag_same_matter(case, None)
    moved = "提级" if up else "交办"
    end_dispatches(case, actor, f"事件{moved}至{workflow.LEVEL_NAMES[level]}")
    notify.emit(
        "case_assigned",
        level_handlers(case, level),
        title=f"事件 {case.number} {moved}至{workflow.LEVEL_NAMES[level]}，待受理：{case.title}",
        case=case,
        exclude=actor,
    )


def end_dispatches(case, actor, why: str) -> int:
    """End the case's open dispatches (withdrawn) when it leaves the centre that sent them.

    A case escalated, handed down or withdrawn is no longer the sending centre's to dispatch: the
    units stop working on it (their clocks stop), the timeline says so and they are told. The
    new level dispatches again if it needs a unit.
    """
    with db.session.no_autoflush:
        ended = db.session.scalars(
            select(Dispatch)
            .where(Dispatch.case_id == case.id, Dispatch.state.in_(OPEN_DISPATCH_STATES))
            .order_by(Dispatch.id)
        ).all()
    if not ended:
        return 0
    for d in ended:
        d.state = "withdrawn"
        d.next_due = None
        d.warning = "none"
        d.updated_at = clock.now()
    names = "、".join(d.department.name for d in ended)
    add_event(
        case,
        actor,
        "dispatch_withdrawn",
        case.state,
        case.state,
        case.level,
        case.level,
        f"{why}：对 {names} 的分拨结束",
        {"dispatch_ids": [d.id for d in ended]},
    )
    for d in ended:
        notify.emit(
            "dispatch_withdrawn",
            [d.handler_id] if d.handler_id else unit_staff_ids(d.department_id),
            title=f"事件 {case.number} 的分拨已结束（{why}）：{case.title}",
            case=case,
            dispatch=d,
            exclude=actor,
        )
    return len(ended)


def level_handlers(case, level: str) -> list[int]:
    """Ids of the active mediators and officials of the case's village, town or county."""
    region_id = {"village": case.village_id, "town": case.town_id, "county": case.county_id}[level]
    with db.session.no_autoflush:
        return db.session.scalars(
            select(User.id).where(
                User.region_id == region_id,
                User.role.in_(sorted(workflow.HANDLERS)),
                User.active,
            )
        ).all()


def _withdraw(case, user, data):
    case.closed_at = clock.now()
    case.outcome_note = data["reason"]
    end_dispatches(case, user, "事件已撤回")


def _request_extension(case, user, data):
    if case.extension_requested:
        raise Conflict(_("已有待审批的延期申请"))
    limit = policy.rule_for(case.kind, case.level, policy.EXTENSION_MAX)
    if case.kind == "petition" and case.extension_days:
        raise Conflict(_("信访事项只能延期一次（信访工作条例 第三十四条）"))
    if limit and data["days"] > limit.days:
        raise Invalid(
            _("延期天数超过上限"),
            {
                "json": {
                    "days": [_("最多 %(n)s 天（%(source)s）", n=limit.days, source=limit.source)]
                }
            },
        )
    case.extension_requested = data["days"]
    case.extension_reason = data["reason"]


def _approve_extension(case, user, data):
    if not case.extension_requested:
        raise Conflict(_("没有待审批的延期申请"))
    days = case.extension_requested
    case.extension_requested = None
    if data["approved"]:
        # The period is lengthened, not restarted: 60 + 30 = one period of 90 days from the same
        # start, rolled over once at its end (DOMAIN §4; 信访工作条例 第三十四条).
        rule = derived_rules(case).get(RESOLVE_CLOCK)
        if rule is not None and case.resolve_from is not None:
            rule = {**rule, "days": rule["days"] + days}
            case.resolve_due = run_clock(case, RESOLVE_CLOCK, rule, case.resolve_from)
        else:
            case.resolve_due = extend(case.resolve_due, days, calendar=years.calendar()).date
        case.extension_days += days
        return f"批准延期 {days} 天，新期限 {case.resolve_due.isoformat()}"
    return f"不批准延期 {days} 天"


def _supervise(case, user, data):
    case.supervision = data["supervision"]
    case.supervision_note = data.get("note") if data["supervision"] != "none" else None
    case.supervision_due = data.get("due") if data["supervision"] != "none" else None


def _reopen(case, user, data):
    last = db.session.scalar(
        select(FollowUp).where(FollowUp.case_id == case.id).order_by(FollowUp.id.desc())
    )
    by_follow_up = last is not None and last.satisfaction == "dissatisfied"
    # A resident's 不满意 of this resolution (docs/resident.md) also lets the official reopen.
    by_resident = resident.rated_dissatisfied(case.id, case.resolved_at)
    if not (by_follow_up or by_resident):
        raise Conflict(_("只有回访或群众评价“不满意”的事件可以重新办理"))
    case.closed_at = None
    case.resolved_at = None
    case.resolved_on_time = None
    case.outcome = None


def _record_performance(case, user, data):
    agreement = case.agreement
    if agreement is None:
        raise Conflict(_("该事件没有调解协议"))
    performed_on = data.get("performed_on")
    if data["performed"] and performed_on is None:
        performed_on = clock.today()
    if performed_on is not None and performed_on > clock.today():
        raise Invalid(
            _("履行日期不能晚于今天"),
            {"json": {"performed_on": [_("不能晚于 %(d)s", d=clock.today().isoformat())]}},
        )
    if performed_on is not None and performed_on < agreement.signed_on:
        raise Invalid(
            _("履行日期不能早于协议签订日期"),
            {"json": {"performed_on": [_("不能早于 %(d)s", d=agreement.signed_on.isoformat())]}},
        )
    agreement.performed = data["performed"]
    agreement.performed_on = performed_on
    # 第三十一条: performance after the agreed day is late (shown on the case and counted).
    due = agreement.performance_due
    agreement.performed_late = (
        bool(data["performed"] and due is not None and performed_on > due)
        if data["performed"]
        else None
    )
    if agreement.performed_late:
        return f"逾期履行：约定 {due.isoformat()}，实际 {performed_on.isoformat()}"
    return None


def check_date_between(day: dt.date, first: dt.date, field: str, message: str) -> None:
    """422 naming `field` unless `first` ≤ `day` ≤ today (a date a person records afterwards)."""
    if not first <= day <= clock.today():
        between = _("须在 %(a)s 至 %(b)s 之间", a=first.isoformat(), b=clock.today().isoformat())
        raise Invalid(message, {"json": {field: [between]}})


def _record_judicial(case, user, data):
    agreement = case.agreement
    if agreement is None:
        raise Conflict(_("该事件没有调解协议"))
    if agreement.form == "oral":
        raise Conflict(_("口头协议不能申请司法确认：须有书面调解协议（人民调解法 第三十三条）"))
    applied_on = data.get("applied_on")
    outcome = data["judicial_outcome"]
    if outcome != "not_applied" and not (applied_on or agreement.judicial_applied_on):
        raise Invalid(
            _("须先有司法确认申请日期"),
            {"json": {"applied_on": [_("“%(o)s”须填写申请日期", o=outcome)]}},
        )
    if applied_on:
        check_date_between(applied_on, agreement.signed_on, "applied_on", _("申请日期有误"))
    if applied_on and applied_on > agreement.judicial_window_due:
        raise Invalid(
            _("已超过司法确认申请期限（协议生效之日起 30 日，人民调解法 第三十三条）"),
            {
                "json": {
                    "applied_on": [
                        _("须不晚于 %(date)s", date=agreement.judicial_window_due.isoformat())
                    ]
                }
            },
        )
    agreement.judicial_applied_on = applied_on or agreement.judicial_applied_on
    agreement.judicial_outcome = outcome
    window = (case.clock_rules or {}).get(JUDICIAL_WINDOW)
    if window and (agreement.judicial_applied_on or outcome != "pending"):
        # Applied for (or decided): the 司法确认 window has stopped, and its year warning with it.
        case.clock_rules = {**case.clock_rules, JUDICIAL_WINDOW: {**window, "stopped": True}}


def _request_review(case, user, data, stage="review"):
    expected = "none" if stage == "review" else "review"
    if case.review_stage != expected:
        if case.review_stage == "re_review":
            message = _("复核后不再受理（信访工作条例 第三十六条）")
        elif stage == "review":
            message = _("复查申请只能针对原信访事项")
        else:
            message = _("复核申请只能针对复查事项")
        raise Conflict(message)
    if case.review_request_due is None or clock.today() > case.review_request_due:
        raise Conflict(_("已超过申请期限（收到书面答复之日起 30 日）"))
    up = workflow.next_level(case.level)
    if up is None:
        raise Conflict(_("县级答复的复查/复核由县以上机关办理，不在本系统"))
    existing = db.session.scalar(
        select(Case.number).where(Case.parent_id == case.id, Case.review_stage == stage)
    )
    if existing:
        raise Conflict(
            _("已有关联的复查事件 %(number)s", number=existing)
            if stage == "review"
            else _("已有关联的复核事件 %(number)s", number=existing),
        )
    child = Case(
        number=registration.next_number(case.county.code[:6], clock.local_date(clock.now()).year),
        kind="petition",
        category=case.category,
        source=case.source,
        title=("复查：" if stage == "review" else "复核：") + case.title[:90],
        description=data["reason"],
        reported_at=clock.now(),
        reporter=user,
        location=case.location,
        grid_cell_id=case.grid_cell_id,
        village_id=case.village_id,
        town_id=case.town_id,
        county_id=case.county_id,
        region_code=case.region_code,
        origin_level=up,
        level=up,
        max_level=up,
        state="reported",
        review_stage=stage,
        parent=case,
        supervision="none",
        warning="none",
        extension_days=0,
        group_visit=case.group_visit,
    )
    db.session.add(child)
    for party in case.parties:
        child.parties.append(Party(**{k: getattr(party, k) for k in PARTY_COLUMNS}))
    start_clocks_on_report(child, child.reported_at)
    db.session.flush()
    add_event(
        child, user, "report", None, "reported", None, up, data["reason"], {"parent": case.number}
    )
    return f"已生成关联事件 {child.number}"


def _request_re_review(case, user, data):
    return _request_review(case, user, data, stage="re_review")


def _confirm_different_matter(case, user, data):
    if case.same_matter_of_id is None:
        raise Conflict(_("没有待判断的同一信访事项"))
    case.same_matter_decision = "different"
    case.same_matter_note = data["note"]
    return None


def _refuse_mediation(case, user, data):
    # 人民调解法 第十七条: 当事人一方明确拒绝调解的，不得调解.
    case.closed_at = clock.now()
    case.outcome = "refused"
    case.outcome_note = data.get("note") or "当事人拒绝调解"
    case.routes_told = data["routes_told"]
    return f"{data['refused_by']} 拒绝调解；已告知：{'、'.join(data['routes_told'])}"


def _name_mediators(case, user, data):
    ids = list(dict.fromkeys(data["mediator_ids"]))
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    wrong = [
        str(i)
        for i in ids
        if i not in users
        or users[i].role != "mediator"
        or not users[i].active
        or not case.region_code.startswith(region_prefix(users[i].region))
    ]
    if wrong:
        raise Invalid(
            _("调解员有误"),
            {
                "json": {
                    "mediator_ids": [
                        _(
                            "须为辖区包含本事件的在职调解员：%(ids)s 不符",
                            ids=", ".join(wrong),
                        )
                    ]
                }
            },
        )
    case.mediator_ids = ids
    return "指定调解员：" + "、".join(users[i].display_name for i in ids)


def _claim(case, user, data):
    case.handler_id = user.id
    return f"认领：{user.display_name} 为承办人"


def _assign_handler(case, user, data):
    handler = db.session.get(User, data["handler_id"])
    if not handler_fits(handler, case):
        raise Invalid(
            _("承办人有误"),
            {
                "json": {
                    "handler_id": [
                        _(
                            "须为在职的调解员或干部，辖区在事件所在层级（%(level)s）并包含本事件",
                            level=gettext(workflow.LEVEL_NAMES[case.level]),
                        )
                    ]
                }
            },
        )
    previous = case.handler
    if previous is not None and previous.id == handler.id:
        raise Conflict(_("%(name)s 已是本事件的承办人", name=handler.display_name))
    case.handler_id = handler.id
    # The timeline's entry keeps who handled it before (act copies the body into its data).
    data["previous_handler_id"] = previous.id if previous else None
    notify.emit(
        "handler_assigned",
        [handler],
        title=f"您被指定为事件 {case.number} 的承办人：{case.title}",
        case=case,
        exclude=user,
    )
    note = f"指定承办人：{handler.display_name}"
    return note + (f"（原承办人：{previous.display_name}）" if previous else "")


def handler_fits(user: User | None, case) -> bool:
    """Whether a user may be the case's handler: an active mediator or official whose
    jurisdiction is at the case's level and holds the case."""
    return (
        user is not None
        and user.active
        and user.role in workflow.HANDLERS
        and user.region.level == case.level
        and case.region_code.startswith(region_prefix(user.region))
    )


def region_prefix(region) -> str:
    """The code prefix of a region's subtree (province 2, 市 4, county 6, town 9, village 12)."""
    return scoping.region_prefix(region.code, region.level)


def _reopen_invalid(case, user, data):
    # 第三十三条第二款: change the agreement, make a new one, or go to court.
    case.closed_at = None
    case.resolved_at = None
    case.resolved_on_time = None
    case.outcome = None


def _start_hearing(case, user, data):
    started = data.get("started_on") or clock.today()
    accepted_on = clock.local_date(case.accepted_at) if case.accepted_at else None
    if started > clock.today() or (accepted_on and started < accepted_on):
        raise Invalid(
            _("听证开始日期有误"),
            {"json": {"started_on": [_("须在受理之后且不晚于今天")]}},
        )
    case.hearing_started_on = started
    case.hearing_ended_on = None


def _end_hearing(case, user, data):
    ended = data.get("ended_on") or clock.today()
    check_date_between(ended, case.hearing_started_on, "ended_on", _("听证结束日期有误"))
    case.hearing_ended_on = ended
    # 第三十六条: the hearing's days (start and end day both) do not count: the 复核 period is
    # lengthened by them, counted once from its start (DOMAIN §4, as an extension).
    days = (ended - case.hearing_started_on).days + 1
    case.hearing_days += days
    # As an extension does (_approve_extension): the running rule gains the days.
    rule = derived_rules(case).get(RESOLVE_CLOCK)
    if rule is not None and case.resolve_from is not None:
        rule = {**rule, "days": rule["days"] + days}
        case.resolve_due = run_clock(case, RESOLVE_CLOCK, rule, case.resolve_from)
    return f"听证 {days} 天不计入复核期限；新期限 {case.resolve_due.isoformat()}"


def _record_reply_received(case, user, data):
    received = data["received_on"]
    errors = received_errors(received, clock.local_date(case.resolved_at), "received_on")
    if errors:
        raise Invalid(_("送达日期有误"), {"json": errors})
    case.reply_received_on = received
    open_review_window(case, received)
    if case.review_request_due:
        return f"答复 {received.isoformat()} 送达；申请期限至 {case.review_request_due.isoformat()}"
    return f"答复 {received.isoformat()} 送达"


def _record_progress(case, user, data):
    # 办理记录: the note is the timeline entry (act() writes it); nothing else changes.
    return None


HANDLERS = {
    "confirm_different_matter": _confirm_different_matter,
    "refuse_mediation": _refuse_mediation,
    "name_mediators": _name_mediators,
    "claim": _claim,
    "assign_handler": _assign_handler,
    "reopen_invalid": _reopen_invalid,
    "start_hearing": _start_hearing,
    "end_hearing": _end_hearing,
    "record_reply_received": _record_reply_received,
    "accept": _accept,
    "reject": _reject,
    "start": _start,
    "resolve": _resolve,
    "follow_up": _follow_up,
    "close": _close,
    "escalate": _escalate,
    "assign_down": _assign_down,
    "withdraw": _withdraw,
    "request_extension": _request_extension,
    "approve_extension": _approve_extension,
    "supervise": _supervise,
    "reopen": _reopen,
    "record_performance": _record_performance,
    "record_judicial": _record_judicial,
    "request_review": _request_review,
    "request_re_review": _request_re_review,
    "record_progress": _record_progress,
}
# Workflow actions whose service belongs to a feature built on cases, which registers it when
# imported (cases cannot import it back): the dispatch (app/dispatch/services.py).
PLUGGED_IN = frozenset({"dispatch"})
assert set(HANDLERS) | PLUGGED_IN == set(workflow.WORKFLOW)


def register_handler(action: str, handler) -> None:
    """Plug in the service of a PLUGGED_IN workflow action: handler(case, user, data) → note."""
    if action not in PLUGGED_IN:
        raise ValueError(f"{action!r} is not a plugged-in workflow action")
    HANDLERS[action] = handler


# --- the sweep -----------------------------------------------------------------------------------

SWEEP_LOCK = 0x4747535745455000  # "GGSWEEP"


RECOUNT_TASK = "recompute_clocks"


@dataclass
class SweepResult:
    """What one sweep changed."""

    ran: bool
    warnings_changed: int = 0
    escalated: int = 0
    recounted: int = 0
    dispatch_warnings_changed: int = 0


def sweep(on: dt.date | None = None) -> SweepResult:
    """Set yellow/red warnings and apply the escalation policy; idempotent, one at a time."""
    session = db.session
    got = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SWEEP_LOCK}).scalar()
    if not got:
        return SweepResult(ran=False)
    on = on or clock.today()
    result = SweepResult(ran=True)
    # A migration that changed the clock rules asked for a recount (app/ops/models.py).
    task = session.execute(
        delete(MaintenanceTask)
        .where(MaintenanceTask.name == RECOUNT_TASK)
        .returning(MaintenanceTask.reason)
    ).scalar()
    if task is not None:
        result.recounted = recompute_open(task)
    if current_app.config["AUTO_ESCALATE_OVERDUE_ACCEPTANCE"]:
        overdue = session.scalars(
            select(Case)
            .where(Case.state == "reported", Case.level == "village", Case.accept_due < on)
            .with_for_update(skip_locked=True)
        ).all()
        for case in overdue:
            handler_before = case.handler_id
            _move(case, "town")
            add_event(
                case,
                None,
                "auto_escalate",
                "reported",
                "reported",
                "village",
                "town",
                "村级逾期未受理，自动提级至镇（升级策略）",
            )
            audit.record(
                "cases.auto_escalate",
                actor=False,
                object_type="case",
                object_id=case.number,
                region_code=case.region_code,
            )
            notices.escalated(case, handler_before)
            result.escalated += 1
        session.flush()
    candidates = session.scalars(
        select(Case).where(Case.state.in_(workflow.OPEN_STATES)).execution_options(yield_per=500)
    )
    changed = []
    told = {}  # case id → (number, handler, the level's region): whom a new warning is told
    for case in candidates:
        before = case.warning, case.next_due
        refresh_derived(case, on)
        if (case.warning, case.next_due) != before:
            changed.append((case.id, case.warning, case.next_due, before[0]))
            told[case.id] = (case.number, case.handler_id, notices.level_region_id(case))
        session.expire(case)
    for case_id, warning, next_due, old in changed:
        # A warning is derived, not an edit: it must not invalidate the version users hold.
        session.execute(
            update(Case)
            .where(Case.id == case_id)
            .values(warning=warning, next_due=next_due)
            .execution_options(synchronize_session=False)
        )
        if warning != old:
            session.add(
                CaseEvent(
                    case_id=case_id,
                    action="warning",
                    note=f"{old} → {warning}",
                    data={"from": old, "to": warning},
                )
            )
            notices.warning_changed(case_id, *told[case_id], warning, on)
            result.warnings_changed += 1
    session.flush()
    result.dispatch_warnings_changed = sweep_dispatches(on)
    return result


DISPATCH_WARNING_EVENTS = {"yellow": "due_soon", "red": "overdue"}


def sweep_dispatches(on: dt.date) -> int:
    """Refresh open dispatches' warnings (derived: the version stays); each change on the case's
    timeline, and yellow/red told to the unit (its named handler, else its staff) once a day;
    red also to the dispatcher and the case's handler."""
    session = db.session
    changed = []
    for d in session.scalars(select(Dispatch).where(Dispatch.state.in_(OPEN_DISPATCH_STATES))):
        warning, next_due = dispatch_clock(d, on)
        if (warning, next_due) != (d.warning, d.next_due):
            changed.append((d, d.warning, warning, next_due))
    for d, old, warning, next_due in changed:
        session.execute(
            update(Dispatch)
            .where(Dispatch.id == d.id)
            .values(warning=warning, next_due=next_due)
            .execution_options(synchronize_session=False)
        )
        if warning == old:
            continue
        name = d.department.name
        session.add(
            CaseEvent(
                case_id=d.case_id,
                action="dispatch_warning",
                note=f"{name}（分拨 #{d.id}）：{old} → {warning}",
                data={"dispatch": d.id, "from": old, "to": warning},
            )
        )
        event = DISPATCH_WARNING_EVENTS.get(warning)
        if event is not None:
            case = session.get(Case, d.case_id)
            due = d.sign_due if d.state == "sent" and d.sign_due == next_due else d.report_due
            what = "签收" if d.state == "sent" and d.sign_due == next_due else "报告办理结果"
            told = [d.handler_id] if d.handler_id else unit_staff_ids(d.department_id)
            if warning == "red":
                # Overdue is the centre's business too (跟踪督办): the dispatcher and the case's
                # handler hear of it, so the unit can be chased.
                told += [d.dispatched_by_id, case.handler_id]
            notify.emit(
                event,
                told,
                title=(
                    f"{case.number} 即将到期：请于 {due.isoformat()} 前{what}"
                    if warning == "yellow"
                    else f"{case.number} 已超期：{what}期限 {due.isoformat()}"
                ),
                body=case.title,
                case=case,
                dispatch=d,
                dedup_key=f"dispatch:{d.id}:{warning}:{on.isoformat()}",
            )
    session.flush()
    return sum(1 for _d, old, warning, _n in changed if warning != old)


def unit_staff_ids(department_id: int) -> list[int]:
    """The active staff of a unit (who is told when something lands on it)."""
    return list(
        db.session.scalars(
            select(User.id)
            .where(User.department_id == department_id, User.active.is_(True))
            .order_by(User.id)
        )
    )
