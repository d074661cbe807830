"""Schemas of the tasks API (我的待办)."""

from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from app.tasks.queries import KINDS


class TaskQuery(Schema):
    """A page of my tasks."""

    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    after = fields.String(metadata={"description": "上一页返回的 next 游标"})


class TaskOut(Schema):
    """One thing to do next."""

    kind = fields.String(
        metadata={
            "description": "case 事件办理 / follow_up 回访 / inspection 风险点排查 / "
            "dispatch 分拨 / campaign_task 专项排查 / self_report 随手拍核实"
        }
    )
    action = fields.String(metadata={"description": "要做的操作"})
    action_name = fields.String(metadata={"description": "操作名称"})
    number = fields.String(metadata={"description": "事件编号（排查：风险点编号；专项排查：类别）"})
    title = fields.String()
    due = fields.Date(allow_none=True, metadata={"description": "期限（最后一日，北京时间）"})
    warning = fields.String(metadata={"description": "none / yellow / red"})
    link = fields.String(metadata={"description": "办理页面的路径"})


class TaskPage(Schema):
    """A page of tasks, nearest deadline first, with the counts of all of them by kind."""

    items = fields.List(fields.Nested(TaskOut))
    next = fields.String(allow_none=True)
    counts = fields.Dict(
        keys=fields.String(validate=validate.OneOf(KINDS)),
        values=fields.Integer(),
        metadata={"description": "各类待办的数量"},
    )
    total = fields.Integer()
