"""Checks on requests (bodies sent to the API, NUL characters anywhere) before any view."""

from __future__ import annotations

from flask import Flask
from flask import request
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


NUL = "\x00"
NUL_MESSAGE = "不能包含空字符（U+0000）"


def _nul_paths(value, path: str = "") -> list[str]:
    """Where NUL characters hide in parsed JSON: keys and string values, by dotted path."""
    found = []
    if isinstance(value, str):
        return [path or "_schema"] if NUL in value else []
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if NUL in str(key):
                found.append(where)
            found += _nul_paths(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _nul_paths(item, f"{path}.{index}" if path else str(index))
    return found


def check_nul_characters() -> None:
    """Refuse NUL characters in the path, query string, form or JSON body.

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
        bad = [key for key, value in request.form.items(multi=True) if NUL in key + value]
        if bad:
            raise DomainError(400, errors={"form": _nul_errors(bad)})
    elif request.is_json and has_body():
        paths = _nul_paths(request.get_json(silent=True))
        if paths:
            raise DomainError(422, errors={"json": _nul_errors(paths)})


def _nul_errors(names: list[str]) -> dict:
    """Field errors by name, the NUL itself shown as \\0."""
    return {name.replace(NUL, "\\0"): [NUL_MESSAGE] for name in names}


def init_guards(app: Flask) -> None:
    """Check requests app-wide: body size everywhere, type and JSON syntax under /api/, NULs."""
    app.before_request(check_declared_length)
    app.before_request(check_api_body)
    app.before_request(check_nul_characters)
