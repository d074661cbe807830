"""Schemas of the campaigns API: launching, closing, findings, and what shows."""

from __future__ import annotations

import re

from flask_babel import gettext as _
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from app import jsonfields
from app.campaigns.models import ANSWERS
from app.campaigns.models import RESULTS
from app.campaigns.models import STATES
from app.cases.schemas import CaseIn
from app.cases.schemas import one_of
from app.risks.schemas import RiskPointIn

MAX_ITEMS = 30
KEY_RE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class CampaignIn(Schema):
    """A campaign to launch over a region (a 12-digit county, town or village code)."""

    title = fields.String(required=True, validate=validate.Length(1, 100))
    region = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9]{12}$", error="应为 12 位区划代码"),
        metadata={"description": "县、镇或村的 12 位区划代码（须在本人辖区内）"},
    )
    category = fields.String(
        required=True,
        validate=validate.Length(1, 40),
        metadata={"description": "风险类别或事件类别，如 欠薪、四乱清理、重点人群走访"},
    )
    checklist = fields.List(
        fields.String(validate=validate.Length(1, 200)),
        required=True,
        validate=validate.Length(1, MAX_ITEMS, error=f"排查清单应有 1–{MAX_ITEMS} 项"),
        metadata={"description": "排查清单，每项一句话"},
    )
    starts_on = fields.Date(metadata={"description": "开始日期（默认今天）"})
    deadline = fields.Date(required=True, metadata={"description": "截止日期（须晚于今天）"})

    @validates_schema
    def check_items(self, data: dict, **kwargs) -> None:
        """Checklist items are distinct once trimmed (answers are keyed by them)."""
        items = [item.strip() for item in data.get("checklist", [])]
        if any(not item for item in items):
            raise ValidationError(_("排查清单不能有空项"), "checklist")
        if len(set(items)) != len(items):
            raise ValidationError(_("排查清单有重复项"), "checklist")
        data["checklist"] = items


class CampaignCloseIn(Schema):
    """Closing a campaign, with the version the caller saw."""

    version = jsonfields.Integer(validate=validate.Range(min=1))


class CampaignFindingIn(Schema):
    """One finding on a task: none found, a risk point to register, or a case to report."""

    result = fields.String(required=True, validate=one_of(RESULTS, "result "))
    answers = fields.Dict(
        keys=fields.String(),
        values=fields.String(validate=one_of(ANSWERS, "answers ")),
        load_default=dict,
        metadata={"description": "清单项 → yes / no / na；须答完每一项"},
    )
    note = fields.String(validate=validate.Length(max=1000))
    risk_point = fields.Nested(RiskPointIn, metadata={"description": "result=risk_point 时必填"})
    case = fields.Nested(CaseIn, metadata={"description": "result=case 时必填"})
    client_key = fields.String(
        validate=validate.Regexp(KEY_RE, error="1–100 个字符：字母、数字或 . _ : -"),
        metadata={"description": "客户端生成的键：同一键重试不会重复记录"},
    )

    @validates_schema
    def check_result(self, data: dict, **kwargs) -> None:
        """The body of what was found goes with its result, and only with it."""
        result = data.get("result")
        for name in ("risk_point", "case"):
            if result == name and name not in data:
                raise ValidationError(_("此结果须附上登记内容"), name)
            if result != name and name in data:
                raise ValidationError(_("与所选结果不符"), name)


class CampaignQuery(Schema):
    """Filters of the campaign list."""

    state = fields.String(validate=one_of(STATES, "state "))


class CampaignRegionProgress(Schema):
    """Progress of a town, village or cell."""

    code = fields.String()
    name = fields.String()
    total = fields.Integer()
    done = fields.Integer()
    overdue = fields.Integer()


class CampaignCellProgress(CampaignRegionProgress):
    """A cell's task."""

    task_id = fields.Integer()
    state = fields.String(metadata={"description": "done / pending / overdue"})
    village = fields.String()
    town = fields.String()
    done_at = fields.DateTime(allow_none=True)


class CampaignProgressOut(Schema):
    """Progress of a campaign in the caller's scope."""

    total = fields.Integer()
    done = fields.Integer()
    pending = fields.Integer()
    overdue = fields.Integer()
    findings = fields.Dict(keys=fields.String(), values=fields.Integer())
    towns = fields.List(fields.Nested(CampaignRegionProgress))
    villages = fields.List(fields.Nested(CampaignRegionProgress))
    cells = fields.List(fields.Nested(CampaignCellProgress))


class CampaignOut(Schema):
    """A campaign."""

    id = fields.Integer()
    title = fields.String()
    region = fields.String(attribute="region_code")
    region_name = fields.String()
    category = fields.String()
    checklist = fields.List(fields.String())
    starts_on = fields.Date()
    deadline = fields.Date()
    state = fields.String()
    created_by = fields.String()
    created_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    version = fields.Integer()
    total = fields.Integer()
    done = fields.Integer()


class CampaignDetail(CampaignOut):
    """A campaign with its progress."""

    progress = fields.Nested(CampaignProgressOut)


class CampaignFindingOut(Schema):
    """A recorded finding."""

    id = fields.Integer()
    task_id = fields.Integer()
    result = fields.String()
    risk_point_id = fields.Integer(allow_none=True)
    risk_point_code = fields.String(allow_none=True)
    case_id = fields.Integer(allow_none=True)
    case_number = fields.String(allow_none=True)
    answers = fields.Dict()
    note = fields.String(allow_none=True)
    at = fields.DateTime()


class CampaignTaskOut(Schema):
    """A cell's task with its campaign's checklist and the findings so far."""

    id = fields.Integer()
    campaign_id = fields.Integer()
    title = fields.String()
    category = fields.String()
    checklist = fields.List(fields.String())
    deadline = fields.Date()
    campaign_state = fields.String()
    cell = fields.String()
    cell_name = fields.String()
    state = fields.String()
    done_at = fields.DateTime(allow_none=True)
    findings = fields.List(fields.Nested(CampaignFindingOut))
