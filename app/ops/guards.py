"""Checks on requests (bodies sent to the API, NUL characters anywhere) before any view."""

from __future__ import annotations

import json
import re

from flask import Flask
from flask import Request
from flask import request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest
from werkzeug.exceptions import RequestEntityTooLarge

from app.core.errors import DomainError

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})


def has_body() -> bool:
    """True when the request carries a body (a length above zero, or chunked)."""
    if request.content_length:
        return True
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def check_declared_length() -> None:
    """413 at once for a body declared larger than MAX_CONTENT_LENGTH, whatever the route.

    Werkzeug would raise it only when a view reads the body; answering before any view runs
    keeps the answer the same everywhere (the error handler gives it the standard shape).
    """
    limit = request.max_content_length
    if limit is not None and request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()


def check_api_body() -> None:
    """415 for a body of another type than JSON or a form, 400 for JSON that does not parse."""
    if not request.path.startswith("/api/") or request.method not in BODY_METHODS:
        return
    # Unknown paths and wrong methods keep their own 404/405 rather than a 415 about the body.
    if request.routing_exception is not None or not has_body():
        return
    # request.is_json is what Flask and webargs will parse as JSON: application/json and
    # application/*+json (merge-patch, say).
    if request.is_json:
        data = request.get_data(cache=True)
        limit = request.max_content_length
        # A chunked body (no Content-Length) is cut at MAX_CONTENT_LENGTH by Werkzeug without
        # a word; the cut must not pass for the whole body (a body of exactly the limit is
        # refused too: from here it cannot be told from a longer one).
        if request.content_length is None and limit is not None and len(data) >= limit:
            raise RequestEntityTooLarge()
        try:
            request.get_json()  # parsed once here and cached for the view
        except BadRequest:
            raise DomainError(400, "请求内容不是有效的 JSON") from None
    elif request.mimetype not in FORM_TYPES:
        raise DomainError(
            415, "不支持的内容类型，请使用 application/json", {"content_type": request.mimetype}
        )


# --- JSON that parses but is not data: nesting, duplicate keys ----------------------------------

# No request body of ours nests deeper than a few levels (a GeoJSON import: about six).
MAX_JSON_DEPTH = 64


class JSONRefused(ValueError):
    """A JSON text that parses but cannot be taken as data; the message says why."""


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    """object_pairs_hook: a key given twice is ambiguous (which one wins?), so it is refused."""
    out = {}
    for key, value in pairs:
        if key in out:
            raise JSONRefused(f"键 “{key}” 出现了两次")
        out[key] = value
    return out


def _depth(value) -> int:
    """The nesting depth of parsed JSON, counted without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_JSON_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing duplicate keys and nesting deeper than MAX_JSON_DEPTH.

    Both were accepted before: a duplicate key silently kept the last value, and JSON nested a few
    thousand levels deep raised RecursionError (a 500) in the parser or the checks after it.
    """

    def loads(self, s, **kwargs):
        """Parse as json.loads does; JSONRefused (a ValueError) for what is not data."""
        kwargs.setdefault("object_pairs_hook", _no_duplicate_keys)
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            raise JSONRefused(f"嵌套层数超过 {MAX_JSON_DEPTH}") from None
        if _depth(value) > MAX_JSON_DEPTH:
            raise JSONRefused(f"嵌套层数超过 {MAX_JSON_DEPTH}")
        return value


class GuardedRequest(Request):
    """A request whose JSON refusals say why (the standard 400 shape, via DomainError)."""

    def on_json_loading_failed(self, e: ValueError | None):
        """400 naming the problem for JSONRefused; Flask's BadRequest for broken syntax."""
        if isinstance(e, JSONRefused):
            raise DomainError(400, f"请求内容不是有效的 JSON：{e}", {"json": {"_schema": [str(e)]}})
        return super().on_json_loading_failed(e)


NUL = "\x00"
NUL_MESSAGE = "不能包含空字符（U+0000）"
# A lone UTF-16 surrogate (JSON's "\ud800") is no character: PostgreSQL cannot store it, and it
# surfaced as a UnicodeEncodeError (500) at flush.
SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_MESSAGE = "包含无效的 Unicode 字符（单独的代理项 U+D800–U+DFFF）"


# Characters no text of ours needs, which only hide or reorder what people see: C0/C1 control
# characters (tab and line breaks aside) and the bidirectional overrides and isolates that make
# "abc" display as "cba" (issue 19 item 6).
CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
CONTROL_MESSAGE = "包含不可见的控制字符或双向文字控制符（如 U+202E）"
# A one-line value (a title, a name, a code) takes no line break and no zero-width character
# either: both make two values look alike.
ONE_LINE_KEYS = frozenset(
    {"title", "name", "display_name", "username", "code", "category", "subcategory", "phone"}
)
ONE_LINE = re.compile("[\r\n\u200b-\u200f\u2060\ufeff]")
ONE_LINE_MESSAGE = "应为一行文字：不能包含换行或零宽字符"


def _bad_text(text: str, key: str | None = None) -> str | None:
    """Why a string of the body cannot be stored, or None (`key`: the field it is the value of)."""
    if NUL in text:
        return NUL_MESSAGE
    if SURROGATE.search(text):
        return SURROGATE_MESSAGE
    if CONTROL.search(text):
        return CONTROL_MESSAGE
    if key in ONE_LINE_KEYS and ONE_LINE.search(text):
        return ONE_LINE_MESSAGE
    return None


def _bad_paths(value) -> dict[str, str]:
    """Where NULs and lone surrogates hide in parsed JSON: keys and strings, by dotted path.

    Iterative: the depth is bounded by the parser (MAX_JSON_DEPTH), but no recursion is needed.
    """
    found: dict[str, str] = {}
    stack = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if problem := _bad_text(item, path.rsplit(".", 1)[-1]):
                found[path or "_schema"] = problem
        elif isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else str(key)
                if problem := _bad_text(str(key)):
                    found[where] = problem
                stack.append((child, where))
        elif isinstance(item, list):
            for index, child in enumerate(item):
                stack.append((child, f"{path}.{index}" if path else str(index)))
    return found


def check_nul_characters() -> None:
    """Refuse NUL characters in the path, query string, form or JSON body (and control or
    bidirectional-override characters in forms and bodies, line breaks in one-line values).

    PostgreSQL text cannot hold U+0000: the driver raises on such a parameter, which surfaced
    as a 500 wherever a caller's string reached a query (a search term, a username, a title).
    No legitimate input has one, so it is refused at the door, like any other malformed input.
    """
    if NUL in request.path:
        raise DomainError(404)
    bad = [key for key, value in request.args.items(multi=True) if NUL in key + value]
    if bad:
        raise DomainError(400, errors={"query": _nul_errors(bad)})
    if request.mimetype in FORM_TYPES:
        # A multipart part may come without a name (werkzeug keys it None): it is still looked at.
        fields = [(key or "", value or "") for key, value in request.form.items(multi=True)]
        bad = [key for key, value in fields if NUL in key + value]
        if bad:
            raise DomainError(400, errors={"form": _nul_errors(bad)})
        hidden = [key for key, value in fields if CONTROL.search(value)]
        if hidden:
            raise DomainError(400, errors={"form": {key: [CONTROL_MESSAGE] for key in hidden}})
    elif request.is_json and has_body():
        paths = _bad_paths(request.get_json(silent=True))
        if paths:
            raise DomainError(
                422, errors={"json": {_shown(name): [why] for name, why in paths.items()}}
            )


def _shown(name: str) -> str:
    """A field name as an error names it: NUL as \\0, a lone surrogate as \\uXXXX."""
    name = name.replace(NUL, "\\0")
    return SURROGATE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", name)


def _nul_errors(names: list[str]) -> dict:
    """Field errors by name, the NUL itself shown as \\0."""
    return {_shown(name): [NUL_MESSAGE] for name in names}


def init_guards(app: Flask) -> None:
    """Check requests app-wide: body size everywhere, type and JSON syntax under /api/, NULs."""
    app.before_request(check_declared_length)
    app.before_request(check_api_body)
    app.before_request(check_nul_characters)
