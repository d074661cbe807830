"""Self-reports API (随手拍): the resident's phone code and report (public, rate-limited), and the
grid worker's read, verify and decline (docs/resident.md)."""

from __future__ import annotations

import json

from flask import Response
from flask import current_app
from flask import request
from flask_login import current_user
from marshmallow import Schema
from marshmallow import fields

from app import pii
from app.attachments import services as attachments
from app.audit import services as audit
from app.core import actions
from app.core.errors import DomainError
from app.core.errors import Invalid
from app.extensions import Blueprint
from app.extensions import limiter
from app.policy import public
from app.policy import requires
from app.resident import receipts
from app.resident import selfreports

blp = Blueprint(
    "selfreport_api", __name__, url_prefix="/api/v1", description="随手拍 (self-reports)"
)


class PhoneCodeIn(Schema):
    """A mobile number to confirm."""

    phone = fields.String(required=True, metadata={"description": "11 位手机号"})


class PhoneCodeOut(Schema):
    """The code was sent."""

    sent = fields.Boolean()
    expires_in = fields.Integer(metadata={"description": "有效秒数"})


class ReceiptOut(Schema):
    """The resident's receipt: shown once."""

    number = fields.String()
    code = fields.String(metadata={"description": "查询码（只显示这一次）"})
    progress_url = fields.String()
    stage = fields.String()


class SelfReportOut(Schema):
    """A self-report as staff see it (the phone masked)."""

    number = fields.String()
    state = fields.String()
    stage = fields.String()
    version = fields.Integer()
    category = fields.String()
    description = fields.String()
    phone = fields.String()
    lon = fields.Float()
    lat = fields.Float()
    grid_cell = fields.String()
    reported_at = fields.DateTime()
    due_at = fields.DateTime()
    decline_reason = fields.String(allow_none=True)
    case_number = fields.String(allow_none=True)
    photos = fields.List(fields.Integer())
    may_decide = fields.Boolean()


REPORT_FIELDS = {
    "phone": {"type": "string", "description": "11 位手机号"},
    "code": {"type": "string", "description": "短信验证码"},
    "lon": {"type": "number"},
    "lat": {"type": "number"},
    "category": {"type": "string", "enum": list(selfreports.PUBLIC_CATEGORIES)},
    "description": {"type": "string", "minLength": 5, "maxLength": 2000},
    "client_key": {"type": "string", "description": "重试用的客户端键"},
}
REQUIRED = ["phone", "code", "lon", "lat", "category", "description"]
REPORT_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": REQUIRED,
                "properties": {
                    **REPORT_FIELDS,
                    "photos": {"type": "array", "items": {"type": "string", "format": "binary"}},
                },
            }
        },
        "application/json": {
            "schema": {"type": "object", "required": REQUIRED, "properties": REPORT_FIELDS}
        },
    },
}


# --- rate limits: per phone and per address (Flask-Limiter, as the login throttle) ----------------


def _body() -> dict:
    """The request's fields, from a form (multipart) or a JSON object."""
    if request.is_json:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}
    return request.form.to_dict()


def _phone_key() -> str:
    return "phone:" + (pii.keyed_hash(str(_body().get("phone", ""))[:20]) or "")


def _breached(request_limit) -> None:
    audit.record(
        "resident.throttled",
        outcome="denied",
        actor=False,
        detail={"path": request.path, "limit": str(request_limit.limit)},
        keep=True,  # the answer is 429: the request's rollback must not drop it
    )


def _counted(response) -> bool:
    # Failed reports (a wrong code, a bad point) count against the address; good ones too.
    return response.status_code != 429


def code_throttled(view):
    """PHONE_CODE_LIMIT_PHONE per phone and PHONE_CODE_LIMIT_ADDRESS per address."""
    view = limiter.shared_limit(
        lambda: current_app.config["PHONE_CODE_LIMIT_PHONE"],
        key_func=_phone_key,
        scope="phone-code-phone",
        on_breach=_breached,
    )(view)
    return limiter.shared_limit(
        lambda: current_app.config["PHONE_CODE_LIMIT_ADDRESS"],
        scope="phone-code-address",
        on_breach=_breached,
    )(view)


def report_throttled(view):
    """SELF_REPORT_LIMIT_ADDRESS reports (and failed tries) per address."""
    return limiter.shared_limit(
        lambda: current_app.config["SELF_REPORT_LIMIT_ADDRESS"],
        scope="self-report-address",
        deduct_when=_counted,
        on_breach=_breached,
    )(view)


# --- the resident's side -------------------------------------------------------------------------


@blp.route("/public/phone-codes", methods=["POST"])
@public
@code_throttled
@blp.arguments(PhoneCodeIn)
@blp.response(202, PhoneCodeOut)
@blp.alt_response(422, response="DEFAULT_ERROR", description="不是 11 位手机号")
@blp.alt_response(429, response="DEFAULT_ERROR", description="请求过于频繁")
def request_phone_code(data):
    """Send a 6-digit confirmation code by SMS (valid 10 minutes; a newer one replaces it)."""
    return selfreports.send_code(data["phone"])


@blp.route("/public/reports", methods=["POST"])
@public
@report_throttled
@blp.doc(requestBody=REPORT_BODY)
@blp.response(201, ReceiptOut)
@blp.alt_response(413, response="DEFAULT_ERROR", description="照片超过 10 MB")
@blp.alt_response(422, response="DEFAULT_ERROR", description="验证码不对、点不在网格内或照片有误")
@blp.alt_response(429, response="DEFAULT_ERROR", description="请求过于频繁")
def submit_report():
    """随手拍: multipart/form-data (fields and up to 3 `photos`) or a JSON object without photos.

    Fields: phone, code (from /public/phone-codes), lon, lat (WGS84), category, description,
    client_key (or the Idempotency-Key header): a retry with the same key and code answers the
    same report again, with a new query code.
    """
    raw = _body()
    if not raw and not request.is_json and not request.form:
        raise Invalid(errors={"json": {"_schema": ["请求体应为 JSON 对象或表单"]}})
    key = request.headers.get("Idempotency-Key")
    if key and "client_key" not in raw:
        raw["client_key"] = key
    data = selfreports.load_report(raw)
    uploads = selfreports.checked_photos(request.files.getlist("photos"))
    report, code, replayed = selfreports.submit(data, uploads)
    body = {
        "number": report.number,
        "code": code,
        "progress_url": receipts.progress_url(report.number),
        "stage": selfreports.public_state(report)["stage"],
    }
    response = Response(
        json.dumps(body, ensure_ascii=False), 200 if replayed else 201, mimetype="application/json"
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the grid worker's side ----------------------------------------------------------------------


@blp.route("/self-reports/<number>")
@requires("selfreports.read")
@blp.response(200, SelfReportOut)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_self_report(number: str):
    """A self-report in the caller's scope (a grid worker: their cells)."""
    report = selfreports.visible(number, current_user)
    body = selfreports.detail(report, current_user)
    response = Response(
        SelfReportOut().dumps(body, ensure_ascii=False), mimetype="application/json"
    )
    response.headers["ETag"] = f'"{report.version}"'
    return response


def _decide(number: str, make_step):
    report = selfreports.visible(number, current_user)
    raw = request.get_json() if request.is_json and request.data else {}
    version = actions.version_from(
        request.headers.get("If-Match"), raw if isinstance(raw, dict) else {}
    )
    actions.run(make_step(report, current_user, version), report, raw, version=version)
    return selfreports.detail(report, current_user)


@blp.route("/self-reports/<number>/verify", methods=["POST"])
@requires("selfreports.act")
@blp.response(200, SelfReportOut)
@blp.alt_response(403, response="DEFAULT_ERROR")
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已过期或已处理")
@blp.alt_response(428, response="DEFAULT_ERROR", description="缺少版本")
def verify_self_report(number: str):
    """核实: the report becomes a case (the resident as applicant); the receipt follows it."""
    return _decide(number, selfreports.verify_step)


@blp.route("/self-reports/<number>/decline", methods=["POST"])
@requires("selfreports.act")
@blp.response(200, SelfReportOut)
@blp.alt_response(403, response="DEFAULT_ERROR")
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR", description="版本已过期或已处理")
@blp.alt_response(422, response="DEFAULT_ERROR", description="缺少理由")
def decline_self_report(number: str):
    """不予受理, with the reason (`reason`) the resident reads on the progress page."""
    return _decide(number, selfreports.decline_step)


@blp.route("/self-reports/<number>/photos/<int:photo_id>")
@requires("selfreports.read")
@blp.response(200, content_type="image/jpeg")
@blp.alt_response(404, response="DEFAULT_ERROR")
def self_report_photo(number: str, photo_id: int):
    """One photo of a self-report in the caller's scope."""
    photo = selfreports.photo_of(selfreports.visible(number, current_user), photo_id)
    data = attachments.read_bytes(photo)  # decrypted (the store encrypts at rest)
    if data is None:
        raise DomainError(404, "照片文件缺失，请联系管理员")
    response = Response(data, mimetype=photo.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
