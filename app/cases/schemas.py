"""Schemas of the cases API: what a report and each action take, and what a case shows."""

from __future__ import annotations

import datetime as dt

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates
from marshmallow import validates_schema

from app import jsonfields
from app import pii
from app.cases.models import AGREEMENT_FORMS
from app.cases.models import COMPLEXITY
from app.cases.models import FOLLOW_UP_METHODS
from app.cases.models import KINDS
from app.cases.models import LEVELS
from app.cases.models import PARTY_ROLES
from app.cases.models import REJECTION_GROUNDS
from app.cases.models import ROUTES_TOLD
from app.cases.models import SATISFACTION
from app.cases.models import SOURCES
from app.cases.models import STATES
from app.cases.models import SUPERVISION
from app.core import clock
from app.core.errors import BadRequest
from app.geo.crs import CRS_CHOICES

CATEGORIES = {
    "dispute": [
        "婚姻家庭",
        "邻里",
        "土地山林水利权属",
        "征地拆迁安置",
        "劳资",
        "合同/经济",
        "环境污染/人居环境",
        "村(社)务管理",
        "医疗/教育",
        "其他",
    ],
    "petition": [
        "婚姻家庭",
        "邻里",
        "土地山林水利权属",
        "征地拆迁安置",
        "劳资",
        "合同/经济",
        "环境污染/人居环境",
        "村(社)务管理",
        "医疗/教育",
        "其他",
    ],
    "incident": [
        "治安",
        "交通",
        "安全生产",
        "消防",
        "食品药品",
        "防汛/地质灾害",
        "四乱",
        "民生服务",
    ],
}
MAX_GROUP_REPRESENTATIVES = 5  # 信访工作条例 第二十条


def one_of(values, what: str):
    """OneOf with a message listing what is allowed (translated when the error is made)."""
    return validate.OneOf(
        values, error=_l("%(what)s应为以下之一：%(values)s", what=what, values=", ".join(values))
    )


class PartyIn(Schema):
    """A party (当事人) as reported."""

    role = fields.String(required=True, validate=one_of(PARTY_ROLES, "role "))
    name = fields.String(required=True, validate=validate.Length(1, 40))
    id_number = fields.String(validate=validate.Length(18, 18, error=_l("身份证号应为 18 位")))
    phone = fields.String(validate=validate.Length(7, 20))
    address = fields.String(validate=validate.Length(1, 200))

    @validates("id_number")
    def check_id_number(self, value: str, **kwargs) -> None:
        """GB 11643 checksum (the value is never echoed back)."""
        if not pii.id_number_valid(value.upper()):
            raise ValidationError(_("身份证号无效：校验位不符（GB 11643）"))

    @validates("phone")
    def check_phone(self, value: str, **kwargs) -> None:
        """A mobile or a landline with its area code."""
        if not pii.phone_valid(value):
            raise ValidationError(_("电话应为 11 位手机号或带区号的固定电话（如 0543-3312345）"))


# A matter reported now happened in living memory and not in the future (a phone whose clock is a
# few minutes fast is forgiven): 9999 and 0001 were accepted (issue 19 item 6).
EARLIEST_OCCURRED = dt.datetime(1949, 10, 1, tzinfo=dt.UTC)
CLOCK_SKEW = dt.timedelta(minutes=10)


def occurred_in_range(value: dt.datetime) -> bool:
    """`occurred_at` lies between 1949-10-01 and now (plus a phone's clock skew)."""
    if value < EARLIEST_OCCURRED:
        raise ValidationError(_("发生时间过早：不早于 1949-10-01"))
    if value > clock.now() + CLOCK_SKEW:
        raise ValidationError(_("发生时间不能晚于现在"))
    return True


class CaseIn(Schema):
    """A new case, located by a point."""

    kind = fields.String(required=True, validate=one_of(KINDS, "kind "))
    category = fields.String(required=True, validate=validate.Length(1, 40))
    source = fields.String(load_default="grid_patrol", validate=one_of(SOURCES, "source "))
    complexity = fields.String(validate=one_of(COMPLEXITY, "complexity "))
    title = fields.String(required=True, validate=validate.Length(1, 100))
    description = fields.String(required=True, validate=validate.Length(1, 5000))
    occurred_at = fields.AwareDateTime(validate=lambda value: occurred_in_range(value))
    lon = jsonfields.Float(required=True, validate=validate.Range(-180, 180))
    lat = jsonfields.Float(required=True, validate=validate.Range(-90, 90))
    crs = fields.String(load_default="wgs84", validate=one_of(CRS_CHOICES, "crs "))
    level = fields.String(validate=one_of(LEVELS, "level "))
    group_visit = jsonfields.Boolean(load_default=False)
    parties = fields.List(fields.Nested(PartyIn), load_default=list)
    note = fields.String(validate=validate.Length(max=1000))
    risk_point_id = jsonfields.Integer(validate=validate.Range(min=1))
    # 视频监控 (docs/cameras.md): the camera that saw it, by id or by its 20-digit device code.
    camera_id = jsonfields.Integer(validate=validate.Range(min=1))
    camera_code = fields.String(
        validate=validate.Regexp(r"^[0-9]{20}$", error=_l("设备编码应为 20 位数字（GB/T 28181）"))
    )

    @validates_schema
    def check_case(self, data: dict, **kwargs) -> None:
        """Category by kind; representatives of a group visit; a camera only for 视频监控."""
        for field in ("camera_id", "camera_code"):
            if field in data and data.get("source") != "video":
                raise ValidationError(_("只有来源为视频监控的事件可以关联摄像机"), field)
        kind = data.get("kind")
        if kind in CATEGORIES and data.get("category") not in CATEGORIES[kind]:
            raise ValidationError(
                _("类别应为以下之一：%(values)s", values=", ".join(CATEGORIES[kind])), "category"
            )
        applicants = [p for p in data.get("parties", []) if p["role"] == "applicant"]
        if data.get("group_visit") and len(applicants) > MAX_GROUP_REPRESENTATIVES:
            raise ValidationError(
                _(
                    "集体访最多推选 %(n)s 名代表（信访工作条例 第二十条）",
                    n=MAX_GROUP_REPRESENTATIVES,
                ),
                "parties",
            )


class NearbyQuery(Schema):
    """Where to look for likely duplicates."""

    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    crs = fields.String(load_default="wgs84", validate=one_of(CRS_CHOICES, "crs "))
    category = fields.String(validate=validate.Length(1, 40))


class AgreementIn(Schema):
    """A mediation agreement: written (第二十九条) or oral (第二十八条: its content, who agreed)."""

    form = fields.String(load_default="written", validate=one_of(AGREEMENT_FORMS, "form "))
    facts = fields.String(validate=validate.Length(1, 5000))
    responsibilities = fields.String(validate=validate.Length(1, 5000))
    terms = fields.String(required=True, validate=validate.Length(1, 5000))
    agreed_by = fields.String(validate=validate.Length(1, 500))
    performance_method = fields.String(validate=validate.Length(1, 1000))
    performance_due = fields.Date()
    signed_on = fields.Date(required=True)
    signed_by_parties = jsonfields.Boolean()
    signed_by_mediator = jsonfields.Boolean()

    @validates_schema
    def check_form(self, data: dict, **kwargs) -> None:
        """A written agreement has 第二十九条's items and signatures; an oral one, who agreed."""
        if data.get("form") == "oral":
            errors = {
                name: [_("口头协议不签名（人民调解法 第二十八条）")]
                for name in ("signed_by_parties", "signed_by_mediator")
                if name in data
            }
            if not data.get("agreed_by"):
                errors["agreed_by"] = [_("口头协议须记录达成协议的当事人（第二十八条）")]
        else:
            errors = {
                name: [_("书面调解协议必填（人民调解法 第二十九条）")]
                for name in WRITTEN_AGREEMENT_FIELDS
                if data.get(name) is None
            }
        if errors:
            raise ValidationError(errors)


# What a written agreement must have (人民调解法 第二十九条).
WRITTEN_AGREEMENT_FIELDS = (
    "facts",
    "responsibilities",
    "performance_method",
    "performance_due",
    "signed_by_parties",
    "signed_by_mediator",
)


class ActionIn(Schema):
    """Fields common to every action: the version the caller saw, and a note."""

    version = jsonfields.Integer(validate=validate.Range(min=1))
    note = fields.String(validate=validate.Length(max=2000))


class ReasonIn(ActionIn):
    """Actions that need a reason."""

    reason = fields.String(required=True, validate=validate.Length(1, 2000))


class RejectIn(ReasonIn):
    """不予受理: the reason, and for petitions the ground, routes, competent body and notice."""

    ground = fields.String(validate=one_of(REJECTION_GROUNDS, "ground "))
    routes_told = fields.List(fields.String(validate=one_of(ROUTES_TOLD, "routes_told ")))
    competent_body = fields.String(validate=validate.Length(1, 100))
    notice = fields.String(validate=validate.Length(1, 10000))


class RefuseMediationIn(ActionIn):
    """当事人拒绝调解 (人民调解法 第十七条)."""

    refused_by = fields.String(required=True, validate=one_of(PARTY_ROLES, "refused_by "))
    routes_told = fields.List(
        fields.String(validate=one_of(["诉讼", "仲裁", "行政"], "routes_told ")),
        required=True,
        validate=validate.Length(min=1),
    )


class MediatorsIn(ActionIn):
    """指定调解员: one or more users (人民调解法 第十九条)."""

    mediator_ids = fields.List(
        jsonfields.Integer(validate=validate.Range(min=1)),
        required=True,
        validate=validate.Length(1, 10),
    )


class HandlerIn(ActionIn):
    """指定承办人: the user who becomes the case's handler at its level."""

    handler_id = jsonfields.Integer(required=True, validate=validate.Range(min=1))


class DifferentMatterIn(ActionIn):
    """确认非同一事项: why it is another matter."""

    note = fields.String(required=True, validate=validate.Length(1, 2000))


def not_blank(value: str) -> None:
    """Refuse text that is only spaces."""
    if not value.strip():
        raise ValidationError(_("不能为空"))


class ProgressIn(ActionIn):
    """办理记录: what was done (photos go to POST /cases/<number>/photos)."""

    note = fields.String(required=True, validate=[validate.Length(1, 2000), not_blank])


class HearingStartIn(ActionIn):
    """开始听证."""

    started_on = fields.Date()


class HearingEndIn(ActionIn):
    """结束听证."""

    ended_on = fields.Date()


class ReplyReceivedIn(ActionIn):
    """答复送达: the day the petitioner received the written reply."""

    received_on = fields.Date(required=True)


class ResolveIn(ActionIn):
    """办结."""

    outcome = fields.String(required=True, validate=validate.Length(1, 20))
    note = fields.String(required=True, validate=validate.Length(1, 2000))
    reply = fields.String(validate=validate.Length(1, 10000))
    routes_informed = fields.List(
        fields.String(validate=one_of(["诉讼", "仲裁", "行政"], "routes_informed "))
    )
    agreement = fields.Nested(AgreementIn)
    reply_received_on = fields.Date()
    # What residents read on the progress page (docs/resident.md): no names, no parties' data.
    public_outcome = fields.String(validate=validate.Length(1, 2000))


class FollowUpIn(ActionIn):
    """回访."""

    method = fields.String(required=True, validate=one_of(FOLLOW_UP_METHODS, "method "))
    satisfaction = fields.String(required=True, validate=one_of(SATISFACTION, "satisfaction "))


class AssignDownIn(ReasonIn):
    """交办."""

    to_level = fields.String(required=True, validate=one_of(["village", "town"], "to_level "))


class ExtensionIn(ReasonIn):
    """申请延期."""

    days = jsonfields.Integer(required=True, validate=validate.Range(1, 366))


class ApproveExtensionIn(ActionIn):
    """审批延期."""

    approved = jsonfields.Boolean(required=True)


class SuperviseIn(ActionIn):
    """督办."""

    supervision = fields.String(required=True, validate=one_of(SUPERVISION, "supervision "))
    due = fields.Date()


class PerformanceIn(ActionIn):
    """履行情况."""

    performed = jsonfields.Boolean(required=True)
    performed_on = fields.Date()


class JudicialIn(ActionIn):
    """司法确认."""

    judicial_outcome = fields.String(
        required=True,
        validate=one_of(
            ["applied", "confirmed", "rejected", "invalid", "not_applied"], "judicial_outcome "
        ),
    )
    applied_on = fields.Date()


class DispatchIn(Schema):
    """分拨交办: the lead unit, optional co-handlers and informed units, instructions, deadline.

    No free `note`: the timeline's entry always names the units and the report deadline
    (信访工作条例 第二十二条).
    """

    version = jsonfields.Integer(validate=validate.Range(min=1))
    lead_department_id = jsonfields.Integer(required=True, validate=validate.Range(min=1))
    co_department_ids = fields.List(
        jsonfields.Integer(validate=validate.Range(min=1)), validate=validate.Length(max=10)
    )
    informed_department_ids = fields.List(
        jsonfields.Integer(validate=validate.Range(min=1)), validate=validate.Length(max=10)
    )
    instructions = fields.String(validate=validate.Length(1, 2000))
    report_due = fields.Date()


class RevealIn(Schema):
    """Why the full values are needed (recorded in the audit log): a purpose from the list, and
    the words when it is "other"."""

    purpose = fields.String(
        required=True,
        validate=validate.OneOf(tuple(pii.REVEAL_PURPOSES)),
        metadata={
            "description": "查看目的："
            + "、".join(f"{k}={v}" for k, v in pii.REVEAL_PURPOSES.items())
        },
    )
    reason = fields.String(
        validate=validate.Length(1, 200), metadata={"description": "说明（目的为 other 时必填）"}
    )

    @validates_schema
    def _other_needs_words(self, data, **_kwargs):
        if data.get("purpose") == "other" and not (data.get("reason") or "").strip():
            raise ValidationError({"reason": [_l("目的为“其他”时须说明理由")]})


ACTION_SCHEMAS: dict[str, type[Schema]] = {
    "accept": ActionIn,
    "reject": RejectIn,
    "start": ActionIn,
    "resolve": ResolveIn,
    "follow_up": FollowUpIn,
    "close": ActionIn,
    "escalate": ReasonIn,
    "assign_down": AssignDownIn,
    "withdraw": ReasonIn,
    "request_extension": ExtensionIn,
    "approve_extension": ApproveExtensionIn,
    "supervise": SuperviseIn,
    "reopen": ReasonIn,
    "record_performance": PerformanceIn,
    "record_judicial": JudicialIn,
    "request_review": ReasonIn,
    "request_re_review": ReasonIn,
    "confirm_different_matter": DifferentMatterIn,
    "refuse_mediation": RefuseMediationIn,
    "name_mediators": MediatorsIn,
    "claim": ActionIn,
    "assign_handler": HandlerIn,
    "reopen_invalid": ReasonIn,
    "start_hearing": HearingStartIn,
    "end_hearing": HearingEndIn,
    "record_reply_received": ReplyReceivedIn,
    "dispatch": DispatchIn,
    "record_progress": ProgressIn,
}


class PartyOut(Schema):
    """A party, masked."""

    id = fields.Integer()
    role = fields.String()
    name = fields.String(attribute="name_masked")
    id_number = fields.String(attribute="id_number_masked", allow_none=True)
    phone = fields.String(attribute="phone_masked", allow_none=True)
    address = fields.String(attribute="address_masked", allow_none=True)
    repeat = fields.Dict(metadata={"description": "其他在办/已结事件数（按身份证号或电话）"})


class PartyRevealed(Schema):
    """A party's full values (audited reveal)."""

    id = fields.Integer()
    role = fields.String()
    name = fields.String()
    id_number = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)


class CaseRegionRef(Schema):
    """A region or cell by code and name."""

    code = fields.String()
    name = fields.String()


class EventOut(Schema):
    """A timeline entry."""

    id = fields.Integer()
    at = fields.DateTime()
    actor = fields.Function(lambda e: e.actor.display_name if e.actor else "系统")
    action = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String(allow_none=True)
    from_level = fields.String(allow_none=True)
    to_level = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    data = fields.Dict()


class CaseFileOut(Schema):
    """A photo or document of the case or of its dispatches' reports; the bytes are at `url`."""

    id = fields.Integer()
    owner_type = fields.String(
        metadata={"description": "case（事件照片）或 dispatch（办结反馈附件）"}
    )
    owner_id = fields.Integer()
    content_type = fields.String()
    size = fields.Integer()
    original_name = fields.String(allow_none=True)
    uploaded_at = fields.DateTime(attribute="created_at")
    uploaded_by = fields.String(metadata={"description": "上传人（显示名）"})
    url = fields.Function(lambda a: f"/api/v1/attachments/{a.id}")


class AgreementOut(Schema):
    """A mediation agreement."""

    form = fields.String()
    facts = fields.String(allow_none=True)
    responsibilities = fields.String(allow_none=True)
    terms = fields.String()
    agreed_by = fields.String(allow_none=True)
    performance_method = fields.String(allow_none=True)
    performance_due = fields.Date(allow_none=True)
    performed = fields.Boolean(allow_none=True)
    performed_on = fields.Date(allow_none=True)
    performed_late = fields.Boolean(allow_none=True)
    signed_on = fields.Date()
    judicial_window_due = fields.Date(allow_none=True)
    judicial_applied_on = fields.Date(allow_none=True)
    judicial_outcome = fields.String()


class FollowUpOut(Schema):
    """A follow-up."""

    at = fields.DateTime()
    method = fields.String()
    satisfaction = fields.String()
    note = fields.String(allow_none=True)


class CaseSummary(Schema):
    """A case in lists."""

    number = fields.String()
    kind = fields.String()
    category = fields.String()
    title = fields.String()
    state = fields.String()
    level = fields.String()
    origin_level = fields.String()
    warning = fields.String()
    supervision = fields.String()
    reported_at = fields.DateTime()
    next_due = fields.Date(allow_none=True)
    accept_due = fields.Date(allow_none=True)
    resolve_due = fields.Date(allow_none=True)
    clock_warning = fields.String(allow_none=True)
    village = fields.Nested(CaseRegionRef)
    grid_cell = fields.Nested(CaseRegionRef)
    version = fields.Integer()


class CaseOut(CaseSummary):
    """A case in full (parties masked)."""

    source = fields.String()
    complexity = fields.String(allow_none=True)
    description = fields.String()
    occurred_at = fields.DateTime(allow_none=True)
    lon = fields.Float()
    lat = fields.Float()
    town = fields.Nested(CaseRegionRef)
    county = fields.Nested(CaseRegionRef)
    max_level = fields.String()
    reporter = fields.Function(lambda c: c.reporter.display_name)
    group_visit = fields.Boolean()
    # Imported from a county's ledger (docs/imports.md): its number there, and whether the
    # point is only its village's or cell's representative point.
    external_number = fields.String(allow_none=True)
    location_approximate = fields.Boolean()
    review_request_due = fields.Date(allow_none=True)
    clock_warning = fields.String(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    accepted_on_time = fields.Boolean(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    resolved_on_time = fields.Boolean(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    outcome = fields.String(allow_none=True)
    outcome_note = fields.String(allow_none=True)
    public_outcome = fields.String(
        allow_none=True, metadata={"description": "公开办理结果：群众在进度查询页看到的文字"}
    )
    reply = fields.String(allow_none=True)
    extension_days = fields.Integer()
    extension_requested = fields.Integer(allow_none=True)
    extension_reason = fields.String(allow_none=True)
    supervision_note = fields.String(allow_none=True)
    supervision_due = fields.Date(allow_none=True)
    review_stage = fields.String()
    parent = fields.Function(lambda c: c.parent.number if c.parent else None)
    mediators = fields.List(fields.Dict(), metadata={"description": "指定的调解员（id, name）"})
    handler = fields.Function(
        lambda c: {"id": c.handler.id, "name": c.handler.display_name} if c.handler else None,
        allow_none=True,
        metadata={"description": "本层级的承办人（id, name）；未指定为 null"},
    )
    same_matter_of = fields.Function(
        lambda c: c.same_matter_of.number if c.same_matter_of else None
    )
    same_matter_decision = fields.String(allow_none=True)
    same_matter_note = fields.String(allow_none=True)
    rejection_ground = fields.String(allow_none=True)
    routes_told = fields.List(fields.String())
    competent_body = fields.String(allow_none=True)
    rejection_notice = fields.String(allow_none=True)
    hearing_started_on = fields.Date(allow_none=True)
    hearing_ended_on = fields.Date(allow_none=True)
    hearing_days = fields.Integer()
    reply_received_on = fields.Date(allow_none=True)
    children = fields.List(fields.String())
    risk_point_id = fields.Integer(allow_none=True)
    camera = fields.Function(
        lambda c: (
            {"id": c.camera.id, "device_code": c.camera.device_code, "name": c.camera.name}
            if c.camera_id
            else None
        ),
        allow_none=True,
        metadata={"description": "视频监控来源的摄像机（id, device_code, name）"},
    )
    parties = fields.List(fields.Nested(PartyOut))
    events = fields.List(fields.Nested(EventOut))
    agreement = fields.Nested(AgreementOut, allow_none=True)
    follow_ups = fields.List(fields.Nested(FollowUpOut))
    attachments = fields.List(
        fields.Nested(CaseFileOut),
        attribute="files",
        metadata={"description": "照片与附件：事件的，及其交办单位办结反馈的（caller 可下载的）"},
    )
    allowed_actions = fields.List(fields.String())


# The queue's "mine" filters (app/cases/queries.filtered).
MINE = ("reported", "handed", "handling")


class CaseQuery(Schema):
    """Filters of the case list."""

    state = fields.List(fields.String(validate=one_of(STATES, "state ")))
    kind = fields.String(validate=one_of(KINDS, "kind "))
    category = fields.String(validate=validate.Length(1, 40))
    level = fields.String(validate=one_of(LEVELS, "level "))
    region = fields.String(validate=validate.Regexp(r"^\d{12}$", error="region 应为 12 位区划代码"))
    grid_cell = fields.String(
        validate=validate.Regexp(r"^\d{15}$", error="grid_cell 应为 15 位网格代码")
    )
    overdue = fields.Boolean()
    warning = fields.String(validate=one_of(["none", "yellow", "red"], "warning "))
    supervised = fields.Boolean()
    archived = fields.Boolean(
        metadata={"description": "true: 归档案卷（保存期满、依法存档、不再处理）；默认不含"}
    )
    reported_from = fields.Date()
    reported_to = fields.Date()
    q = fields.String(validate=validate.Length(1, 50), metadata={"description": "标题与描述全文"})
    mine = fields.String(
        validate=one_of(MINE, "mine "),
        metadata={
            "description": "reported 我上报的；handed 我交办的（我提级、交办或分拨的）；"
            "handling 我承办的"
        },
    )
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    after = fields.String(metadata={"description": "上一页返回的 next 游标"})


def with_party_header(args: dict, headers) -> dict:
    """The list's filters plus `party_id_number` from the X-Party-Id-Number header.

    An ID number is personal data: it travels in a header, never in the URL (DOMAIN §7).
    """
    party = headers.get("X-Party-Id-Number")
    if party is None:
        return args
    if not pii.ID_RE.match(party.upper()):
        raise BadRequest(
            "X-Party-Id-Number 应为 18 位身份证号",
            errors={"headers": {"X-Party-Id-Number": ["18 位"]}},
        )
    return {**args, "party_id_number": party.upper()}


class MetricsQuery(Schema):
    """Which region, period and kind to measure."""

    region = fields.String(
        validate=validate.Regexp(r"^\d{12}$", error="region 应为 12 位区划代码"),
        metadata={"description": "区划代码（县、镇或村）；默认为本人辖区"},
    )
    date_from = fields.Date(
        data_key="from", metadata={"description": "起始日（含，北京时间）；默认 to 前 29 天"}
    )
    date_to = fields.Date(
        data_key="to", metadata={"description": "截止日（含，北京时间）；默认今天"}
    )
    kind = fields.String(
        validate=one_of(KINDS, "kind "), metadata={"description": "只统计此类事件"}
    )


class CasePage(Schema):
    """A page of cases, with the cursor of the next page."""

    items = fields.List(fields.Nested(CaseSummary))
    next = fields.String(allow_none=True)


class ActionsOut(Schema):
    """What the caller may do now."""

    version = fields.Integer()
    state = fields.String()
    allowed_actions = fields.List(fields.String())


class DeadlinePolicyOut(Schema):
    """One clock of the deadline policy."""

    id = fields.Integer()
    kind = fields.String()
    level = fields.String()
    clock = fields.String()
    variant = fields.String()
    days = fields.Integer()
    unit = fields.String()
    warn_percent = fields.Integer()
    source = fields.String(allow_none=True)


class DeadlinePolicyIn(Schema):
    """A change to one clock."""

    days = jsonfields.Integer(required=True, validate=validate.Range(1, 366))
    unit = fields.String(load_default="days", validate=one_of(["days", "working_days"], "unit "))
    warn_percent = jsonfields.Integer(validate=validate.Range(1, 100))
    source = fields.String(validate=validate.Length(1, 200))


class HolidayYearIn(Schema):
    """A year's official schedule (国务院办公厅 annual notice)."""

    holidays = fields.List(fields.Date(), required=True)
    workdays = fields.List(fields.Date(), load_default=list)
    notice = fields.String(validate=validate.Length(1, 200))


class HolidayYearOut(Schema):
    """A year the calendar covers, and where it comes from."""

    year = fields.Integer()
    source = fields.String(metadata={"description": "bundled 或 entered"})
    holidays = fields.List(fields.Date())
    workdays = fields.List(fields.Date())
    notice = fields.String(allow_none=True)
    warnings = fields.List(fields.String())


# OpenAPI descriptions of the path parameters and of the action body (app/cases/api.py).
NUMBER_PARAMETER = {
    "in": "path",
    "name": "number",
    "description": "事件编号（一事一码），如 371699-2026-000123",
    "schema": {"type": "string", "pattern": r"^[0-9]{6}-[0-9]{4}-[0-9]{6}$"},
}
ACTION_PARAMETER = {
    "in": "path",
    "name": "action",
    "description": "流程操作（docs/workflow.md）",
    "schema": {"type": "string", "enum": list(ACTION_SCHEMAS)},
}
ACTION_BODY = {
    "required": False,
    "description": "版本（或 If-Match 头）与该操作的字段；可用的字段见各操作的模式",
    "content": {
        "application/json": {
            "schema": {"anyOf": list(dict.fromkeys(ACTION_SCHEMAS.values()))},
        }
    },
}
