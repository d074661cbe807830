"""The resident's side, writes (docs/resident.md): receipts at registration and reprinted, the
text to the resident, the lookup's bookkeeping, the public outcome text, ratings.

Flush, never commit (the request boundary does).
"""

from __future__ import annotations

from flask import has_request_context
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert

from app import pii
from app.audit import services as audit
from app.cases import notices
from app.cases import queries as case_queries
from app.cases.models import Case
from app.core import clock
from app.core import transaction
from app.core.errors import Conflict
from app.core.errors import Forbidden
from app.core.errors import Invalid
from app.core.errors import NotFound
from app.core.errors import PreconditionRequired
from app.core.errors import stale
from app.extensions import db
from app.notify import jobs
from app.notify.models import SmsMessage
from app.notify.services import SMS_PREFIX
from app.notify.services import emit
from app.resident import queries
from app.resident import receipts
from app.resident.models import RATING_NAMES
from app.resident.models import Rating
from app.resident.models import Receipt

PUBLIC_OUTCOME_MAX = 2000


def not_found() -> NotFound:
    """The one answer for a wrong code and an unknown number alike."""
    return NotFound(_("编号或查询码不正确"))


def link(number: str) -> str:
    """The progress page's address (absolute in a request; the path in a command or seed)."""
    return receipts.progress_url(number) if has_request_context() else f"/q/{number}"


def receipt_text(number: str, code: str, url: str) -> str:
    """The text message of a receipt: the number, the code and the link, nothing personal."""
    return (
        f"{SMS_PREFIX}您反映的事项已登记，编号 {number}，查询码 {code}。"
        f"凭编号和查询码查看办理进度：{url}"
    )


def text_resident(phone: str, text: str) -> int:
    """Queue a text message to a resident's phone (no inbox, no user); answer its id."""
    message_id = db.session.execute(
        insert(SmsMessage).values(phone=phone, text=text).returning(SmsMessage.id)
    ).scalar_one()
    jobs.defer_sms(message_id)
    return message_id


def applicant_mobile(parties: list[dict]) -> str | None:
    """The first applicant's phone, when it is a mobile number (a landline takes no SMS)."""
    for party in parties:
        phone = (party.get("phone") or "").replace("-", "").replace(" ", "")
        if party.get("role") == "applicant" and pii.MOBILE_RE.match(phone):
            return phone
    return None


def registration_code(county_code: str, year: int) -> tuple[str, str]:
    """(code, stored hash) of the receipt of a case registering in this county and year: the
    number's statement writes it (app/cases/registration.py), `registered_receipt` answers it."""
    return receipts.registration_code(f"{county_code}-{year}")


def registered_receipt(case: Case, code: str, parties: list[dict]) -> dict:
    """The receipt of a case just registered (its row written with the case: `registration_code`),
    texted to the applicant's mobile if one was given.

    Answers {number, code, url} (the code in clear: shown once). Only a real registration (in a
    request) texts the resident; a seed or a command does not.
    """
    url = link(case.number)
    phone = applicant_mobile(parties)
    if phone and has_request_context():
        text_resident(phone, receipt_text(case.number, code, url))
    return {"number": case.number, "code": code, "url": url}


def reprint(case: Case, actor) -> dict:
    """A new receipt for a case (the earlier code stops working), audited."""
    code = receipts.issue(number=case.number, case_id=case.id, actor=actor)
    url = link(case.number)
    audit.record(
        "resident.receipt_print",
        object_type="case",
        object_id=case.number,
        region_code=case.region_code,
    )
    return {"number": case.number, "code": code, "url": url, "qr": receipts.qr_svg(url)}


def lookup(number: str, code: str) -> Receipt:
    """The receipt for number + code, or the one 404 for both failures; audited (never the
    code). A wrong code against a known number is counted on it, and kept through the 404's
    rollback."""
    number = receipts.normalise_number(number or "")
    receipt = receipts.find(number, code or "")
    if receipt is None:
        current = receipts.current(number)
        if current is not None:
            receipt_id = current.id

            def count():
                db.session.execute(
                    update(Receipt)
                    .where(Receipt.id == receipt_id)
                    .values(failed_attempts=Receipt.failed_attempts + 1)
                )

            transaction.keep(count)
        audit.record(
            "resident.progress",
            outcome="denied",
            actor=False,
            object_type="receipt",
            object_id=number,
            detail={"reason": "wrong number or code"},
            keep=True,
        )
        raise not_found()
    audit.record(
        "resident.progress",
        actor=False,
        object_type="receipt",
        object_id=number,
        keep=True,  # a read: the request's changes roll back, the entry stays
    )
    return receipt


def set_public_outcome(case: Case, user, text: str | None, version: int | None) -> Case:
    """The handler's outcome text for the public (staff who may act on the case now)."""
    if not case_queries.allowed_actions(case, user):
        raise Forbidden(_("您不能办理此事件，不能修改公开办理结果"))
    if version is None:
        raise PreconditionRequired(
            _("缺少案件版本：请在 If-Match 头或 version 字段中提供"),
            {"json": {"version": [_("必填")]}},
        )
    if version != case.version:
        raise stale(version, case.version, _("该事件已被他人修改，请刷新后重试"))
    text = (text or "").strip()
    if len(text) > PUBLIC_OUTCOME_MAX:
        raise Invalid(
            _("公开办理结果过长"),
            {"json": {"public_outcome": [_("最多 %(n)s 字", n=PUBLIC_OUTCOME_MAX)]}},
        )
    case.public_outcome = text or None
    db.session.flush()
    audit.record(
        "cases.public_outcome",
        object_type="case",
        object_id=case.number,
        region_code=case.region_code,
    )
    return case


def rate(receipt: Receipt, rating: str, comment: str | None) -> Rating:
    """The resident's rating of the current resolution; 409 before resolution or twice.

    不满意 tells the officials of the case's level (they may reopen after a follow-up).
    """
    case = db.session.get(Case, receipt.case_id) if receipt.case_id else None
    if case is None or case.state not in queries.RATEABLE_STATES or case.resolved_at is None:
        raise Conflict(_("事项办结后才能评价"), {"json": {"rating": [_("尚未办结")]}})
    if queries.current_rating(case) is not None:
        raise Conflict(_("本次办结已评价过"), {"json": {"rating": [_("每次办结只能评价一次")]}})
    row = Rating(
        case_id=case.id,
        receipt_id=receipt.id,
        resolved_at=case.resolved_at,
        rating=rating,
        comment=(comment or "").strip() or None,
        created_at=clock.now(),
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        "resident.rating",
        actor=False,
        object_type="case",
        object_id=case.number,
        region_code=case.region_code,
        detail={"rating": rating},
    )
    if rating == "dissatisfied":
        emit(
            "resident_dissatisfied",
            notices.staff_at(notices.level_region_id(case), ("official",)),
            title=f"群众评价不满意：事件 {case.number}",
            body=f"{RATING_NAMES[rating]}" + (f"：{row.comment[:100]}" if row.comment else ""),
            case=case,
        )
    return row


def rated_dissatisfied(case_id: int, resolved_at) -> bool:
    """Whether the resident rated this resolution (the round) 不满意: the official may reopen."""
    return (
        db.session.scalar(
            select(Rating.id).where(
                Rating.case_id == case_id,
                Rating.resolved_at == resolved_at,
                Rating.rating == "dissatisfied",
            )
        )
        is not None
    )
