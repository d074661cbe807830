"""What the pages' short forms share: reading form values, and saying what was wrong with them.

Validation itself is the API's (the same marshmallow schemas and services); this module only
turns its answers into people's words in the page's language: a message beside each field (by
its label, never its code name) and a short summary at the top linking to the fields. The
templates show them with the macros of app/templates/_forms.html.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app import pii
from app.cases import schemas as case_schemas
from app.core.errors import DomainError
from app.core.errors import default_message
from app.web import labels

# marshmallow's own messages are English whatever the page's language; pages show them
# translated. (The API answers them as marshmallow wrote them.)
MARSHMALLOW_MESSAGES: list[tuple[re.Pattern, Callable[..., str]]] = [
    (re.compile(r"Missing data for required field\."), lambda: _("必填")),
    (re.compile(r"Field may not be null\."), lambda: _("不能为空")),
    (re.compile(r"Not a valid integer\."), lambda: _("应为整数")),
    (re.compile(r"Not a valid string\."), lambda: _("应为文本")),
    (re.compile(r"Not a valid boolean\."), lambda: _("应为是或否")),
    (re.compile(r"Not a valid date\."), lambda: _("应为日期（年-月-日）")),
    (re.compile(r"Not a valid list\."), lambda: _("应为列表")),
    (re.compile(r"Unknown field\."), lambda: _("未知字段")),
    (
        re.compile(r"Length must be between (?P<min>\d+) and (?P<max>\d+)\."),
        lambda **m: _("长度应为 %(min)s 到 %(max)s", **m),
    ),
    (
        re.compile(r"Shorter than minimum length (?P<min>\d+)\."),
        lambda **m: _("长度至少为 %(min)s", **m),
    ),
    (
        re.compile(r"Longer than maximum length (?P<max>\d+)\."),
        lambda **m: _("长度最多为 %(max)s", **m),
    ),
    (re.compile(r"Length must be (?P<n>\d+)\."), lambda **m: _("长度应为 %(n)s", **m)),
    (
        re.compile(
            r"Must be greater than or equal to (?P<min>\S+)"
            r" and less than or equal to (?P<max>\S+)\."
        ),
        lambda **m: _("应在 %(min)s 到 %(max)s 之间", **m),
    ),
    (
        re.compile(r"Must be greater than or equal to (?P<min>\S+)\."),
        lambda **m: _("应不小于 %(min)s", **m),
    ),
    (
        re.compile(r"Must be less than or equal to (?P<max>\S+)\."),
        lambda **m: _("应不大于 %(max)s", **m),
    ),
]


# What refers to a grid cell, by table (a service names the table when cells cannot be
# replaced; people are told what holds on to them).
REFERENCING = {
    "cases": _l("事件记录"),
    "risk_points": _l("风险点记录"),
    "user_grid_cells": _l("网格员分配记录"),
}

# Services' messages that name a code, a table or a command-line option: people's words instead.
SERVICE_MESSAGES: list[tuple[re.Pattern, Callable[..., str]]] = [
    # OneOf (app/cases/schemas.one_of, the risks' schemas) lists the codes: the page offers a list.
    (re.compile(r".*应为以下之一：.*"), lambda: _("请从列表中选择")),
    (re.compile(r"Must be one of: .*"), lambda: _("请从列表中选择")),
    (re.compile(r".*\bmust be one of: .*"), lambda: _("请从列表中选择")),  # one_of, in English
    (re.compile(r"角色应为 .+ 之一"), lambda: _("请从列表中选择")),
    (re.compile(r"shape 应为 square 或 hex"), lambda: _("请选择网格形状")),
    (
        re.compile(r"cell-size 应在 (?P<min>\d+) 到 (?P<max>\d+) 米之间"),
        lambda **m: _("网格边长应在 %(min)s 到 %(max)s 米之间", **m),
    ),
    (
        re.compile(r"(?P<head>.*)请加大 cell-size"),
        lambda **m: _("%(head)s请加大网格边长", **m),
    ),
    # The workbench's period (app/cases/measures.period_of) names its query parameters.
    (re.compile(r"起始日不能晚于截止日"), lambda: _("起始日不能晚于截止日")),
    (re.compile(r"不能晚于 to"), lambda: _("不能晚于截止日")),
    (
        re.compile(r"统计区间最长 (?P<n>\d+) 天"),
        lambda **m: _("统计区间最长 %(n)s 天", **m),
    ),
    (
        re.compile(r"区间最长 (?P<n>\d+) 天（约三年）"),
        lambda **m: _("区间最长 %(n)s 天（约三年）", **m),
    ),
    (
        re.compile(
            r"村 (?P<code>\S+) 的现有网格被 (?P<table>\w+) 中 (?P<n>\d+) 条记录引用，不能替换"
        ),
        lambda **m: _(
            "村 %(code)s 的现有网格仍被 %(n)s 条%(what)s使用，不能替换",
            code=m["code"],
            n=m["n"],
            what=REFERENCING.get(m["table"], _("记录")),
        ),
    ),
]


# Services' messages, as the request's language says them, that name a code name: replaced whole.
EXACT_MESSAGES: list[tuple[str, Callable[[], str]]] = [
    # app/risks/schemas.InspectionIn: the case an inspection opens needs a description.
    ("立案时必填（或填写排查情况 notes）", lambda: _("立案时必填：请填写排查情况")),
]


def exact_messages() -> dict[str, str]:
    """{a service's message in this request's language: people's words for it}."""
    return {_(msgid): translate() for msgid, translate in EXACT_MESSAGES}


def message_text(message) -> str:
    """One validation or service message in the page's language, in people's words."""
    text = str(message)
    exact = exact_messages()
    if text in exact:
        return exact[text]
    for pattern, translate in MARSHMALLOW_MESSAGES + SERVICE_MESSAGES:
        match = pattern.fullmatch(text)
        if match:
            return translate(**match.groupdict())
    return text


def leaf_messages(value) -> list[str]:
    """Every message in a marshmallow error value (a list, or a dict by list index or field)."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in leaf_messages(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in leaf_messages(item)]
    return [message_text(value)]


def split_list(text: str) -> list[str]:
    """A list typed in one box, separated by commas (either width), 、 or new lines."""
    return [item.strip() for item in re.split(r"[,，、;；\n]", text) if item.strip()]


def form_int(text: str) -> int | str:
    """A whole number typed in a box, as the API's strict integer fields take it (else as typed,
    for the schema to refuse by name)."""
    text = text.strip()
    return int(text) if text.isdigit() else text


def shown_version(form) -> int | None:
    """The version the page showed (its hidden `version` field), or None when missing."""
    shown = form.get("version", "").strip()
    return int(shown) if shown.isdigit() else None


def field_messages(errors, prefix: str = "") -> dict[str, list[str]]:
    """Messages by field name, nested fields as dotted names ("agreement.facts"); the messages
    of a list's items go to the list; "_schema" (the whole body) is the name ""."""
    found: dict[str, list[str]] = {}
    if not isinstance(errors, dict):
        return {prefix: leaf_messages(errors)} if errors else {}
    for key, value in errors.items():
        if isinstance(key, int) or key == "_schema":
            name = prefix
        else:
            name = f"{prefix}.{key}" if prefix else str(key)
        for inner, texts in field_messages(value, name).items():
            known = found.setdefault(inner, [])
            known += [text for text in texts if text not in known]
    return found


def field_id(form: str, name: str) -> str:
    """The HTML id of a form's field (and, prefixed, of its message): anchors for the summary."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"{form}-{name}")


@dataclass
class Failure:
    """A form that failed: which one, what was typed, and what was wrong, in people's words.

    `lead` makes the summary's sentence from the reasons ("未能保存：%(reason)s"); `labels` are
    the fields' display names (a field without one is told about in the summary only, never by
    its code name); `stale` means someone else changed the record: the current values show.
    """

    form: str = ""
    values: dict[str, list[str]] = dataclass_field(default_factory=dict)
    errors: dict[str, list[str]] = dataclass_field(default_factory=dict)
    labels: dict[str, str] = dataclass_field(default_factory=dict)
    lead: Callable[[str], str] | None = None
    message: str = ""
    stale: bool = False

    @classmethod
    def of(
        cls,
        form: str,
        lead: Callable[[str], str],
        labels: dict[str, str],
        *,
        errors=None,
        message: str = "",
        stale: bool = False,
    ) -> Failure:
        """The failure of the form just posted, its values as typed (unless stale)."""
        return cls(
            form=form,
            values={} if stale else request.form.to_dict(flat=False),
            errors=field_messages(errors or {}),
            labels=labels,
            lead=lead,
            message=message_text(message) if message else "",
            stale=stale,
        )

    def __bool__(self) -> bool:
        return bool(self.form)

    def typed(self, form: str) -> bool:
        """Whether this form's values come back as typed."""
        return self.form == form and not self.stale and bool(self.values)

    def value(self, form: str, name: str, default="") -> str:
        """A field's value: as typed if this form failed, else the default."""
        if self.typed(form):
            return (self.values.get(name) or [""])[0]
        return default

    def chosen(self, form: str, name: str, option: str, default: bool = False) -> bool:
        """Whether an option (radio, checkbox, select) is chosen: as typed, else the default."""
        if self.typed(form):
            return option in self.values.get(name, [])
        return default

    def error(self, form: str, name: str) -> str:
        """The message beside one field (empty if it is fine)."""
        if self.form != form or name not in self.labels:
            return ""
        return _("；").join(self.errors.get(name, []))

    def reasons(self) -> list[tuple[str, str | None]]:
        """(text, field name or None): each labelled field's "label：message", then the others."""
        named = [
            (_("%(field)s：%(problem)s", field=self.labels[n], problem=_("；").join(t)), n)
            for n, t in self.errors.items()
            if n in self.labels
        ]
        unnamed = [(t, None) for n, ts in self.errors.items() if n not in self.labels for t in ts]
        return named + unnamed

    def summary(self) -> list[tuple[str, str | None]]:
        """The summary at the top as (text, anchor or None) pieces: one sentence naming each
        field, each field's part linking to it (the whole sentence when only one field)."""
        if not self.form:
            return []
        reasons = self.reasons()
        lead = self.lead or (lambda reason: reason)
        anchor = {name: field_id(self.form, name) for _t, name in reasons if name is not None}
        if not reasons:
            return [(lead(self.message), None)] if self.message else []
        if len(reasons) == 1:
            text, name = reasons[0]
            if self.message:
                text = _("%(message)s（%(details)s）", message=self.message, details=text)
            return [(lead(text), anchor.get(name))]
        mark = "\x00"
        inner = mark
        if self.message:
            inner = _("%(message)s（%(details)s）", message=self.message, details=mark)
        before, after = lead(inner).split(mark, 1)
        pieces: list[tuple[str, str | None]] = [(before, None)]
        for index, (text, name) in enumerate(reasons):
            if index:
                pieces.append((_("；"), None))
            pieces.append((text, anchor.get(name)))
        pieces.append((after, None))
        return [piece for piece in pieces if piece[0]]

    def ids(self, form: str, name: str) -> tuple[str, str]:
        """(the field's id, its message's id)."""
        ident = field_id(form, name)
        return ident, f"err-{ident}"


NO_FAILURE = Failure()


# --- the action forms of the case page and the risk point page -----------------------------------


def case_field_names(action: str, kind: str | None = None) -> dict[str, str]:
    """Display names of a case action form's fields (as the page labels them)."""
    note = {
        "approve_extension": _("意见"),
        "supervise": _("督办意见"),
        "resolve": _("办理情况"),
        "follow_up": _("回访记录"),
        "record_progress": _("办理情况"),
    }.get(action, _("备注"))
    return {
        "reason": _("理由"),
        "to_level": _("交办至"),
        "days": _("延期天数"),
        "approved": _("是否批准"),
        "note": note,
        "supervision": _("督办等级"),
        "due": _("督办期限"),
        "outcome": _("办结结果"),
        "reply": _("书面答复（处理意见书）"),
        "routes_informed": _("已告知的其他途径"),
        "agreement": _("调解协议"),
        "agreement.facts": _("事实与争议"),
        "agreement.responsibilities": _("各方责任"),
        "agreement.terms": _("协议内容"),
        "agreement.performance_method": _("履行方式"),
        "agreement.performance_due": _("履行期限"),
        "agreement.signed_on": _("签订日期"),
        "agreement.signed_by_parties": _("双方当事人已签名"),
        "agreement.signed_by_mediator": _("调解员已签名"),
        "method": _("回访方式"),
        "satisfaction": _("满意度"),
        "performed": _("是否已履行"),
        "performed_on": _("履行日期"),
        "judicial_outcome": _("司法确认"),
        "applied_on": _("申请日期"),
        "photos": _("照片"),
    }


def action_failure(failed: dict, title: str, names: dict[str, str]) -> Failure:
    """The Failure of an action form from what the page's view collected: {"action",
    "values" (as typed), "message", "json" (field errors), "stale"}."""
    if not failed:
        return NO_FAILURE
    values = failed.get("values") or {}
    return Failure(
        form=failed.get("action") or "stale",
        values={k: v if isinstance(v, list) else [v] for k, v in values.items()},
        errors=field_messages(failed.get("json") or {}),
        labels=names,
        lead=lambda reason: _("未能完成“%(action)s”：%(reason)s", action=title, reason=reason),
        message=message_text(failed["message"]) if failed.get("message") else "",
        stale=bool(failed.get("stale")),
    )


def case_failure(failed: dict | None) -> Failure:
    """The case page's failed action form (casework.take_action's dict), for the template."""
    action = (failed or {}).get("action") or ""
    return action_failure(failed or {}, labels.label("action", action), case_field_names(action))


def dispatch_field_names() -> dict[str, str]:
    """Display names of the dispatch panel's fields (as the page labels them)."""
    return {
        "lead_department_id": _("主办单位"),
        "co_department_ids": _("协办单位"),
        "informed_department_ids": _("抄告单位"),
        "instructions": _("交办要求"),
        "report_due": _("报告办理结果期限"),
        "reason": _("理由"),
        "note": _("办理情况及结果"),
        "photos": _("照片或文件"),
        "outcome": _("办结结果"),
        "reply": _("书面答复（处理意见书）"),
        "routes_informed": _("已告知的其他途径"),
        "agreement": _("调解协议"),
        "handler_id": _("承办人"),
    }


def dispatch_failure(failed: dict | None) -> Failure:
    """The dispatch panel's failed form: "dispatch", or "d<id>-<step>" for a step."""
    name = (failed or {}).get("action") or ""
    step = name.split("-", 1)[1] if name.startswith("d") and "-" in name else ""
    title = labels.label("dispatch_action", step) if step else labels.label("action", "dispatch")
    return action_failure(failed or {}, title, dispatch_field_names())


def refused_form(exc: DomainError, typed: dict) -> dict:
    """What a refused action form shows again: what was typed, the field errors, and the
    service's message — unless it is only the generic "数据有误" and the fields say it all."""
    failed = {**typed, **exc.errors}
    if exc.message != default_message(exc.status) or not exc.errors.get("json"):
        failed["message"] = exc.message
    return failed


# --- the forms a page script sends to the API (上报, 排查) ----------------------------------------


def script_pattern(pattern: re.Pattern) -> str:
    """A message pattern as a JavaScript RegExp source (whole message; named groups as JS)."""
    return "^(?:" + pattern.pattern.replace("(?P<", "(?<") + ")$"


def script_messages(names: dict[str, str], **templates: str) -> dict:
    """What a page script needs to say the API's field errors as this module says them: the
    message patterns with their translations ("{min}" where a part of the message goes), the
    fields' display names, and the sentences around them — rendered into the page as JSON, so
    this one table serves the server-rendered forms and the scripts alike."""
    patterns = []
    for pattern, translate in MARSHMALLOW_MESSAGES + SERVICE_MESSAGES:
        parts = {name: "{" + name + "}" for name in pattern.groupindex}
        patterns.append([script_pattern(pattern), str(translate(**parts))])
    return {
        "patterns": patterns,
        "exact": exact_messages(),
        "labels": {name: str(label) for name, label in names.items()},
        "field": _("%(field)s：%(problem)s", field="{field}", problem="{problem}"),
        "detailed": _("%(message)s（%(details)s）", message="{message}", details="{details}"),
        "and": _("；"),
        "generic": default_message(422),
        "required": message_text("Missing data for required field."),
        # What the API says of an inspection that opens a case without a title or notes, for
        # the form's own check before it queues (app/static/js/inspect.js).
        "case_required": _("立案时必填"),
        "case_notes": message_text(_("立案时必填（或填写排查情况 notes）")),
        **templates,
    }


def report_field_names() -> dict[str, str]:
    """Display names of the 上报 form's fields (as the page labels them)."""
    return {
        "location": _("位置"),
        "lon": _("位置"),
        "lat": _("位置"),
        "kind": _("类型"),
        "category": _("类别"),
        "complexity": _("复杂程度"),
        "source": _("来源"),
        "title": _("标题"),
        "description": _("描述"),
        "parties": _("当事人"),
        "role": _("身份"),
        "name": _("姓名"),
        "id_number": _("身份证号"),
        "phone": _("电话"),
        "address": _("住址"),
        "photos": _("照片"),
        "camera_code": _("摄像机"),  # 视频监控 (docs/cameras.md)
        "occurred_at": _("发生时间"),
    }


def check_rules() -> dict:
    """What the field forms check before queueing (app/static/js/checks.js), from the rules the
    API applies (app.pii, app.cases.schemas) and in its words: a report sure to be refused is
    never queued (docs/field.md, "离线上报 / offline")."""
    return {
        **pii.check_rules(),
        "earliest_occurred": case_schemas.EARLIEST_OCCURRED.isoformat(),
        "clock_skew_minutes": case_schemas.CLOCK_SKEW.total_seconds() / 60,
        "messages": {
            "id_length": _("身份证号应为 18 位"),
            "id_checksum": _("身份证号无效：校验位不符（GB 11643）"),
            "phone": _("电话应为 11 位手机号或带区号的固定电话（如 0543-3312345）"),
            "too_early": _("发生时间过早：不早于 1949-10-01"),
            "future": _("发生时间不能晚于现在"),
            "future_day": _("不能晚于今天"),
        },
    }


def report_messages() -> dict:
    """The 上报 page's table for its script (report.js): names, and how a party's field and the
    summary are said."""
    return script_messages(
        report_field_names(),
        party=_("当事人 %(n)s：%(field)s", n="{n}", field="{field}"),
        lead=_("未能提交：%(reason)s", reason="{reason}"),
    )


def inspection_field_names() -> dict[str, str]:
    """Display names of the 排查 form's fields (as the page labels them); the description of
    the case an inspection opens is its notes."""
    return {
        "result": _("排查结果"),
        "inspected_on": _("排查日期"),
        "notes": _("排查情况"),
        "description": _("排查情况"),
        "photos": _("照片"),
        "open_case": _("立案"),
        "kind": _("类型"),
        "category": _("类别"),
        "title": _("标题"),
        "complexity": _("复杂程度"),
    }


def inspection_messages() -> dict:
    """The 排查 forms' table for their script (inspect.js)."""
    return script_messages(
        inspection_field_names(), lead=_("未能提交排查：%(reason)s", reason="{reason}")
    )


# --- filter forms (GET) --------------------------------------------------------------------------


def filter_failure(form: str, errors: dict, names: dict[str, str]) -> Failure:
    """A filter form that could not be applied: the query string as typed, each message beside
    its filter (the fields say it all: no generic "筛选条件有误" on top)."""
    return Failure(
        form=form,
        values=request.args.to_dict(flat=False),
        errors=field_messages(errors),
        labels=names,
        lead=lambda reason: _("未能筛选：%(reason)s", reason=reason),
    )
