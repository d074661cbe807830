"""Self-reports (随手拍, DOMAIN §9, docs/resident.md): phone codes, reports, the 待核实 queue.

A resident asks for a code (`send_code`), reports with it (`submit`: placed by app/geo/placement,
numbered SP + county + year + serial, a receipt issued), and the grid worker of the cell verifies
it (`verify`: a case through the case report service, the receipt follows it) or declines it
with a reason (`decline`). Residents are told by SMS through the notification queue. Services
flush; the request (or the sweep command) commits.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets

from flask import current_app
from flask_babel import gettext as _
from geoalchemy2.shape import from_shape
from geoalchemy2.shape import to_shape
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from shapely.geometry import Point
from sqlalchemy import select
from sqlalchemy import text
from sqlalchemy import update

from app import pii
from app.accounts.models import User
from app.accounts.models import user_grid_cells
from app.attachments import services as attachments
from app.attachments.models import Attachment
from app.audit import services as audit
from app.cases import schemas as case_schemas
from app.cases import services as case_services
from app.core import clock
from app.core import transaction
from app.core.actions import Step
from app.core.errors import Conflict
from app.core.errors import DomainError
from app.core.errors import Forbidden
from app.core.errors import Invalid
from app.core.errors import NotFound
from app.core.errors import PreconditionRequired
from app.core.errors import stale
from app.deadlines.calendar import due_after
from app.extensions import db
from app.geo.placement import cell_at
from app.notify import jobs
from app.notify import services as notify
from app.notify.models import SmsMessage
from app.notify.services import SMS_PREFIX
from app.resident import receipts
from app.resident.selfreport_models import OPEN_STATES
from app.resident.selfreport_models import PhoneCode
from app.resident.selfreport_models import SelfReport
from app.resident.selfreport_models import SelfReportPhoto
from app.scoping import scope_for

CODE_TTL = dt.timedelta(minutes=10)
CODE_MAX_ATTEMPTS = 5
MAX_PHOTOS = 3
PHOTO_TYPES = ("image/jpeg", "image/png")
# The short list a resident picks from, and the case kind and category each becomes.
PUBLIC_CATEGORIES = {
    "邻里纠纷": ("dispute", "邻里"),
    "环境卫生": ("dispute", "环境污染/人居环境"),
    "乱占乱建": ("incident", "四乱"),
    "治安隐患": ("incident", "治安"),
    "交通安全": ("incident", "交通"),
    "安全隐患": ("incident", "安全生产"),
    "民生服务": ("incident", "民生服务"),
    "其他": ("dispute", "其他"),
}
# The case's source: the closest existing value (SOURCES has no 群众自报; the note says 随手拍).
CASE_SOURCE = "online"
# The applicant's name when the grid worker does not learn it: a resident need not give one.
DEFAULT_APPLICANT = "随手拍群众"
PUBLIC_STAGES = {
    "pending": "待核实",
    "verified": "已核实",
    "declined": "未予受理",
    "expired": "已超时",
}
DECIDERS = frozenset({"grid_worker", "mediator", "official"})
DECIDING_LEVELS = frozenset({"village", "town"})


def code_error(message: str) -> Invalid:
    """The 422 of a phone code that does not confirm the phone (field `code`)."""
    return Invalid(message, errors={"json": {"code": [message]}})


# --- texting a resident --------------------------------------------------------------------------


def text_resident(phone: str, body: str) -> int:
    """Queue a text message to a resident (no user, no inbox): the worker sends it at once."""
    message = SmsMessage(phone=phone, text=(SMS_PREFIX + body)[:300])
    db.session.add(message)
    db.session.flush()
    jobs.defer_sms(message.id)
    return message.id


# --- phone codes ---------------------------------------------------------------------------------


def _code_hash(phone: str, code: str) -> str:
    return pii.keyed_hash(f"phone-code:{phone}:{code}")


def check_mobile(phone: str, field: str = "phone") -> str:
    """A mainland mobile number (codes go by SMS), else a 422 naming the field."""
    phone = (phone or "").strip()
    if not pii.MOBILE_RE.match(phone):
        message = _("请填写 11 位手机号")
        raise Invalid(message, errors={"json": {field: [message]}})
    return phone


def send_code(phone: str) -> dict:
    """Send a 6-digit confirmation code to a mobile; earlier unused codes stop working."""
    phone = check_mobile(phone)
    moment = clock.now()
    phone_hash = pii.keyed_hash(phone)
    db.session.execute(
        update(PhoneCode)
        .where(PhoneCode.phone_hash == phone_hash, PhoneCode.used_at.is_(None))
        .values(expires_at=moment)
    )
    code = f"{secrets.randbelow(10**6):06d}"
    db.session.add(
        PhoneCode(
            phone_hash=phone_hash,
            code_hash=_code_hash(phone, code),
            created_at=moment,
            expires_at=moment + CODE_TTL,
        )
    )
    text_resident(phone, f"您的随手拍验证码是 {code}，10 分钟内有效。如非本人操作，请忽略。")
    audit.record("resident.phone_code", actor=False)  # no phone in the log, not even masked
    return {"sent": True, "expires_in": int(CODE_TTL.total_seconds())}


def _count_failure(code_id: int) -> None:
    """Count a wrong code on its row; kept through the request's rollback (the answer is 422)."""

    def work():
        db.session.execute(
            update(PhoneCode).where(PhoneCode.id == code_id).values(attempts=PhoneCode.attempts + 1)
        )

    transaction.keep(work)


def confirm_code(phone: str, code: str) -> PhoneCode:
    """The phone's current code if `code` is it (unused, unexpired, not guessed at too often).

    Wrong, expired and replayed codes are 422s on the `code` field; a wrong one is counted, and
    after CODE_MAX_ATTEMPTS the code is spent.
    """
    row = db.session.scalar(
        select(PhoneCode)
        .where(PhoneCode.phone_hash == pii.keyed_hash(phone))
        .order_by(PhoneCode.id.desc())
        .limit(1)
        .with_for_update()
    )
    given = _code_hash(phone, (code or "").strip())
    if row is None:
        raise code_error(_("验证码不正确，请重新获取"))
    if row.used_at is not None:
        raise code_error(_("验证码已使用过，请重新获取"))
    if row.expires_at <= clock.now():
        raise code_error(_("验证码已过期，请重新获取"))
    if row.attempts >= CODE_MAX_ATTEMPTS:
        raise code_error(_("验证码错误次数过多，请重新获取"))
    if not hmac.compare_digest(given, row.code_hash):
        _count_failure(row.id)
        raise code_error(_("验证码不正确"))
    return row


# --- the report ----------------------------------------------------------------------------------


class SelfReportIn(Schema):
    """A resident's report: where, what, and the phone with its code."""

    phone = fields.String(required=True, validate=validate.Length(1, 20))
    code = fields.String(required=True, validate=validate.Length(1, 10))
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    category = fields.String(
        required=True,
        validate=validate.OneOf(
            list(PUBLIC_CATEGORIES), error="应为以下之一：" + "、".join(PUBLIC_CATEGORIES)
        ),
    )
    description = fields.String(required=True, validate=validate.Length(5, 2000))
    client_key = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9._:-]{1,100}$"))


def load_report(raw: dict) -> dict:
    """The report's fields, or a 422 naming each bad field."""
    try:
        return SelfReportIn().load(raw)
    except ValidationError as exc:
        raise Invalid(_("数据有误"), errors={"json": exc.messages}) from None


def checked_photos(files: list) -> list[attachments.Upload]:
    """At most MAX_PHOTOS uploads, each a JPEG or PNG by its content (errors name `photos`)."""
    files = [f for f in files if f.filename or f.content_length]
    if len(files) > MAX_PHOTOS:
        message = _("最多 %(n)s 张照片", n=MAX_PHOTOS)
        raise Invalid(message, errors={"photos": [message]})
    uploads = []
    for file in files:
        try:
            upload = attachments.read_upload(file)
        except attachments.AttachmentError as exc:
            raise DomainError(exc.status, exc.message, {"photos": [exc.message]}) from None
        if upload.content_type not in PHOTO_TYPES:
            message = _("只能上传 JPEG 或 PNG 照片")
            raise Invalid(message, errors={"photos": [message]})
        uploads.append(upload)
    return uploads


def next_number(county_code: str, year: int) -> str:
    """SP + county + year + a 6-digit serial: SP3716992026000123."""
    serial = db.session.execute(
        text(
            """
            INSERT INTO self_report_counters (county_code, year, last) VALUES (:county, :year, 1)
            ON CONFLICT (county_code, year) DO UPDATE SET last = self_report_counters.last + 1
            RETURNING last
            """
        ),
        {"county": county_code, "year": year},
    ).scalar_one()
    return f"SP{county_code}{year}{serial:06d}"


def due_at(moment: dt.datetime) -> dt.datetime:
    """The time limit: SELF_REPORT_WORKING_DAYS 工作日 after the day it came in (24:00)."""
    days = current_app.config["SELF_REPORT_WORKING_DAYS"]
    return due_after(moment, days, "working_days").deadline


def _replay(data: dict) -> tuple[SelfReport, str] | None:
    """A retry of a report already made (same phone, client key and code): it and a new code."""
    if not data.get("client_key"):
        return None
    report = db.session.scalar(
        select(SelfReport).where(
            SelfReport.phone_hash == pii.keyed_hash(data["phone"]),
            SelfReport.client_key == data["client_key"],
        )
    )
    if report is None:
        return None
    used = db.session.scalar(select(PhoneCode).where(PhoneCode.self_report_id == report.id))
    if used is None or not hmac.compare_digest(
        used.code_hash, _code_hash(data["phone"], data["code"].strip())
    ):
        return None
    # The first answer's receipt code was shown once and is not kept: this answer brings a new one.
    return report, receipts.issue(number=report.number, self_report_id=report.id)


def new_report(data: dict, placement, phone: str, uploads=()) -> SelfReport:
    """The self-report row for a placed point, with its photos (flushed; no receipt yet)."""
    moment = clock.now()
    report = SelfReport(
        number=next_number(placement.county.code[:6], clock.local_date(moment).year),
        location=from_shape(Point(data["lon"], data["lat"]), srid=4326),
        grid_cell_id=placement.cell.id,
        village_id=placement.village.id,
        town_id=placement.town.id,
        county_id=placement.county.id,
        region_code=placement.cell.code,
        category=data["category"],
        description=data["description"],
        phone_enc=pii.encrypt(phone),
        phone_hash=pii.keyed_hash(phone),
        phone_masked=pii.mask_phone(phone),
        client_key=data.get("client_key") or secrets.token_urlsafe(16),
        state="pending",
        reported_at=moment,
        due_at=due_at(moment),
    )
    db.session.add(report)
    db.session.flush()
    for upload in uploads:
        attachments.write_bytes(upload)
        db.session.add(
            SelfReportPhoto(
                self_report_id=report.id,
                sha256=upload.sha256,
                content_type=upload.content_type,
                size=len(upload.data),
                original_name=upload.original_name,
            )
        )
    db.session.flush()
    return report


def submit(data: dict, uploads: list[attachments.Upload]) -> tuple[SelfReport, str, bool]:
    """File a resident's report; answer it, the receipt code (clear, once) and whether replayed.

    Checked in order: the phone, the code, the point (in some cell), then written all at once.
    """
    phone = check_mobile(data["phone"])
    replayed = _replay(data)
    if replayed is not None:
        return replayed[0], replayed[1], True
    code = confirm_code(phone, data["code"])
    placement = cell_at(data["lon"], data["lat"])
    if placement is None:
        message = _("该点不在任何网格内：请在本县范围内选点")
        raise Invalid(message, errors={"json": {"location": [message]}})
    report = new_report(data, placement, phone, uploads)
    code.used_at = report.reported_at
    code.self_report_id = report.id
    receipt_code = receipts.issue(number=report.number, self_report_id=report.id)
    text_resident(
        phone,
        f"您的随手拍已提交，编号 {report.number}，查询码 {receipt_code}。"
        f"网格员将在期限内核实，进度可查：{receipts.progress_url(report.number)}",
    )
    notify.emit(
        "self_report_received",
        cell_workers(report.grid_cell_id),
        title=f"新随手拍待核实：{report.number}",  # stored in Chinese, as case notices are
        body=f"{report.category}：{report.description[:60]}",
        link=f"/self-reports/{report.number}",
    )
    audit.record(
        "resident.self_report",
        actor=False,
        object_type="self_report",
        object_id=report.number,
        region_code=report.region_code,
        detail={"category": report.category, "photos": len(uploads)},
    )
    db.session.flush()
    return report, receipt_code, False


def cell_workers(grid_cell_id: int) -> list[int]:
    """The active grid workers of a cell (their inbox gets the new report)."""
    return list(
        db.session.scalars(
            select(User.id)
            .join(user_grid_cells, user_grid_cells.c.user_id == User.id)
            .where(
                user_grid_cells.c.grid_cell_id == grid_cell_id,
                User.role == "grid_worker",
                User.active.is_(True),
            )
        )
    )


def public_state(report: SelfReport) -> dict:
    """What the progress page shows of a self-report: its stage and any reason it was declined.

    Chinese as stored; the page translates the stage at display.
    """
    return {
        "stage": PUBLIC_STAGES[report.state],
        "reason": report.decline_reason if report.state == "declined" else None,
    }


# --- the staff's side: reads ---------------------------------------------------------------------


def visible(number: str, user) -> SelfReport:
    """A self-report in the user's scope (a grid worker: their cells), else 404 as if missing."""
    scope = scope_for(user)
    report = db.session.scalar(
        select(SelfReport).where(
            SelfReport.number == number,
            scope.clause(SelfReport.region_code, SelfReport.grid_cell_id),
        )
    )
    if report is None:
        audit.record(
            "self_reports.read",
            outcome="denied",
            object_type="self_report",
            object_id=number,
            keep=True,
        )
        raise NotFound(_("随手拍不存在"))
    return report


def photos_of(report: SelfReport) -> list[SelfReportPhoto]:
    """The report's photos, in upload order."""
    return list(
        db.session.scalars(
            select(SelfReportPhoto)
            .where(SelfReportPhoto.self_report_id == report.id)
            .order_by(SelfReportPhoto.id)
        )
    )


def photo_of(report: SelfReport, photo_id: int) -> SelfReportPhoto:
    """One photo of the report (404 otherwise)."""
    photo = db.session.get(SelfReportPhoto, photo_id)
    if photo is None or photo.self_report_id != report.id:
        raise NotFound(_("照片不存在"))
    return photo


def detail(report: SelfReport, user) -> dict:
    """A self-report as staff see it: the phone masked, what they may do."""
    point = to_shape(report.location)
    case_number = None
    if report.case_id is not None:
        case_number = db.session.scalar(
            text("SELECT number FROM cases WHERE id = :id"), {"id": report.case_id}
        )
    return {
        "number": report.number,
        "state": report.state,
        "stage": PUBLIC_STAGES[report.state],
        "version": report.version,
        "category": report.category,
        "description": report.description,
        "phone": report.phone_masked,
        "lon": point.x,
        "lat": point.y,
        "grid_cell": report.region_code,
        "reported_at": report.reported_at,
        "due_at": report.due_at,
        "decline_reason": report.decline_reason,
        "case_number": case_number,
        "photos": [p.id for p in photos_of(report)],
        "may_decide": report.state in OPEN_STATES and may_decide(user),
    }


# --- the staff's side: verify and decline --------------------------------------------------------


def may_decide(user) -> bool:
    """The cell's grid workers, and the village's and town's mediators and officials."""
    return user.role in DECIDERS and (
        user.role == "grid_worker" or user.region.level in DECIDING_LEVELS
    )


def _checker(report: SelfReport, user, version: int | None):
    def check() -> None:
        if not may_decide(user):
            raise Forbidden(_("只有所在网格的网格员和村、镇工作人员可以核实随手拍"))
        if version is None:
            raise PreconditionRequired(_("缺少版本：请在 If-Match 或 version 中给出"))
        if version != report.version:
            raise stale(version, report.version)
        if report.state not in OPEN_STATES:
            raise Conflict(_("该随手拍已处理"), {"state": report.state})

    return check


class VerifyIn(Schema):
    """Verify: what the case becomes (defaults from the resident's category)."""

    version = fields.Integer()
    kind = fields.String(validate=validate.OneOf(("dispute", "petition", "incident")))
    category = fields.String(validate=validate.Length(1, 40))
    title = fields.String(validate=validate.Length(1, 100))
    applicant_name = fields.String(validate=validate.Length(1, 40))
    note = fields.String(validate=validate.Length(max=1000))


class DeclineIn(Schema):
    """Decline: the reason the resident will read."""

    version = fields.Integer()
    reason = fields.String(
        required=True,
        validate=validate.Length(2, 500),
        error_messages={"required": "请填写不予受理的理由（群众会看到）"},
    )


def verify_step(report: SelfReport, user, version: int | None) -> Step:
    """核实: the report becomes a case (the resident its applicant); the receipt follows it."""

    def apply(report: SelfReport, data: dict):
        kind, category = PUBLIC_CATEGORIES[report.category]
        point = to_shape(report.location)
        phone = pii.decrypt(report.phone_enc)
        raw = {
            "kind": data.get("kind", kind),
            "category": data.get("category", category),
            "source": CASE_SOURCE,
            "title": data.get("title") or f"随手拍：{report.description[:40]}",
            "description": report.description,
            "lon": point.x,
            "lat": point.y,
            "parties": [
                {
                    "role": "applicant",
                    "name": data.get("applicant_name", DEFAULT_APPLICANT),
                    "phone": phone,
                }
            ],
            "note": data.get("note") or f"随手拍 {report.number} 经网格员核实立案",
        }
        try:
            case_data = case_schemas.CaseIn().load(raw)
        except ValidationError as exc:
            raise Invalid(_("数据有误"), errors={"json": exc.messages}) from None
        case_data.pop("crs", None)
        case = case_services.report(case_data, user)
        for photo in photos_of(report):
            db.session.add(
                Attachment(
                    sha256=photo.sha256,
                    content_type=photo.content_type,
                    size=photo.size,
                    original_name=photo.original_name,
                    uploaded_by_id=user.id,
                    owner_type="case",
                    owner_id=case.id,
                )
            )
        report.state = "verified"
        report.case_id = case.id
        report.decided_by_id = user.id
        report.decided_at = clock.now()
        db.session.flush()
        receipts.attach_case(report.id, case.id)
        text_resident(
            phone,
            f"您的随手拍 {report.number} 已核实，登记为事件 {case.number}，"
            f"可用原查询码继续查看进度：{receipts.progress_url(report.number)}",
        )
        audit.record(
            "self_reports.verify",
            object_type="self_report",
            object_id=report.number,
            region_code=report.region_code,
            detail={"case": case.number},
        )
        return case

    return Step(schema=VerifyIn, apply=apply, check=_checker(report, user, version))


def decline_step(report: SelfReport, user, version: int | None) -> Step:
    """不予受理 with a reason the resident sees on the progress page."""

    def apply(report: SelfReport, data: dict):
        report.state = "declined"
        report.decline_reason = data["reason"].strip()
        report.decided_by_id = user.id
        report.decided_at = clock.now()
        db.session.flush()
        text_resident(
            pii.decrypt(report.phone_enc),
            f"您的随手拍 {report.number} 未予受理，理由：{report.decline_reason}",
        )
        audit.record(
            "self_reports.decline",
            object_type="self_report",
            object_id=report.number,
            region_code=report.region_code,
        )
        return report

    return Step(schema=DeclineIn, apply=apply, check=_checker(report, user, version))


# --- the sweep -----------------------------------------------------------------------------------


def sweep(now: dt.datetime | None = None) -> int:
    """Mark pending reports past their time limit 已超时 (still to verify; never auto-declined)."""
    result = db.session.execute(
        update(SelfReport)
        .where(SelfReport.state == "pending", SelfReport.due_at <= (now or clock.now()))
        .values(state="expired", version=SelfReport.version + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount
