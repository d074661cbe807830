"""Schemas of the notifications API: the inbox and one's notification settings."""

from __future__ import annotations

import datetime as dt
import re

from flask_babel import lazy_gettext as _l
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from app.notify.models import EVENTS

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class ClockTime(fields.Field):
    """A wall-clock time as "HH:MM" (Asia/Shanghai), or null."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.strftime("%H:%M")

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not HHMM.match(value):
            raise ValidationError(str(_l("应为 HH:MM（如 22:00）")))
        return dt.time.fromisoformat(value)


def known_event():
    """One of the notification events (app/notify/models.py EVENTS)."""
    return validate.OneOf(EVENTS, error=_l("应为以下之一：%(values)s", values=", ".join(EVENTS)))


class NotificationOut(Schema):
    """One notification in the inbox."""

    id = fields.Integer()
    event = fields.String()
    title = fields.String()
    body = fields.String(allow_none=True)
    link = fields.String(allow_none=True, metadata={"description": "应用内路径，如 /cases/<编号>"})
    case_id = fields.Integer(allow_none=True)
    dispatch_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class NotificationPage(Schema):
    """A page of notifications, newest first, with the cursor of the next page."""

    items = fields.List(fields.Nested(NotificationOut))
    next = fields.String(allow_none=True)
    unread = fields.Integer(metadata={"description": "未读总数"})


class InboxQuery(Schema):
    """Filters of the inbox."""

    unread = fields.Boolean(load_default=False, metadata={"description": "只看未读"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    after = fields.String(metadata={"description": "上一页返回的 next 游标"})


class UnreadCount(Schema):
    """How many notifications are unread."""

    unread = fields.Integer()


class ReadAll(Schema):
    """How many notifications were marked read."""

    marked = fields.Integer()


class NotificationSettingsSchema(Schema):
    """One's notification settings: SMS events, muted events, quiet hours for SMS."""

    sms_events = fields.List(
        fields.String(validate=known_event()),
        required=True,
        metadata={"description": "同时以短信发送的事件"},
    )
    muted_events = fields.List(
        fields.String(validate=known_event()),
        load_default=list,
        metadata={"description": "不再通知的事件"},
    )
    quiet_from = ClockTime(
        allow_none=True, load_default=None, metadata={"description": "免打扰开始（北京时间 HH:MM）"}
    )
    quiet_to = ClockTime(
        allow_none=True, load_default=None, metadata={"description": "免打扰结束（北京时间 HH:MM）"}
    )
    events = fields.List(fields.String(), dump_only=True, metadata={"description": "可选事件"})
