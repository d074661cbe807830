"""What the pages' short forms share: reading form values, and saying what was wrong with them.

Validation itself is the API's (the same marshmallow schemas and services); this module only
turns its answers into one sentence for a flash message or a field, in the page's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flask_babel import gettext as _

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


def message_text(message) -> str:
    """One validation message in the page's language."""
    text = str(message)
    for pattern, translate in MARSHMALLOW_MESSAGES:
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


def describe_errors(errors: dict, names: dict[str, str]) -> str:
    """Field errors as one sentence, each field by its display name: "名称：必填；细类：…"."""
    parts = []
    for field, value in errors.items():
        texts = _("，").join(dict.fromkeys(leaf_messages(value)))
        if field == "_schema":
            parts.append(texts)
        else:
            parts.append(_("%(field)s：%(problem)s", field=names.get(field, field), problem=texts))
    return _("；").join(parts)


def split_list(text: str) -> list[str]:
    """A list typed in one box, separated by commas (either width), 、 or new lines."""
    return [item.strip() for item in re.split(r"[,，、;；\n]", text) if item.strip()]


def form_int(text: str) -> int | str:
    """A whole number typed in a box, as the API's strict integer fields take it (else as typed,
    for the schema to refuse by name)."""
    text = text.strip()
    return int(text) if text.isdigit() else text
