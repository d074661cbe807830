"""Idempotency-Key for the outbox's other requests (docs/field.md, "离线上报 / offline"): an
inspection (排查) and a case action (回访) sent again with the same key answer as the first did,
never recording twice (reports and visits have their own, app/cases/api.py and app/visits).

Keys share the idempotency_keys table with reports (per user). The request's fingerprint is its
JSON body, or for a multipart form its text fields and its files' names and sizes.
"""

from __future__ import annotations

import hashlib
import json
import re

from flask import Response
from flask import request
from flask_login import current_user

from app.cases import services
from app.core.errors import Conflict
from app.core.errors import Invalid

KEY_RE = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def file_print(file) -> list:
    """A file's name and size (read, then rewound for the view)."""
    size = len(file.read())
    file.seek(0)
    return [file.filename, size]


def fingerprint() -> str:
    """SHA-256 of the request: its JSON (key order and spacing do not matter), or its form."""
    if request.mimetype == "multipart/form-data":
        payload = {
            "form": {k: v for k, v in sorted(request.form.items()) if k != "csrf_token"},
            "files": [file_print(f) for f in request.files.getlist("photos")],
        }
    else:
        payload = request.get_json(silent=True)
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def key() -> str | None:
    """The request's Idempotency-Key (None without one); a malformed one is 422."""
    value = request.headers.get("Idempotency-Key")
    if value is not None and not KEY_RE.match(value):
        raise Invalid(
            "Idempotency-Key 格式不对",
            errors={"headers": {"Idempotency-Key": ["1–100 个字符：字母、数字或 . _ : -"]}},
        )
    return value


def replay(value: str | None, stamp: str | None = None) -> Response | None:
    """Claim the key (None: go on), or the first answer given with it, replayed.

    `stamp` is the request's fingerprint (default: `fingerprint()`); the case report passes its own.
    """
    if value is None:
        return None
    stamp = stamp or fingerprint()
    existing = services.claim_key(current_user, value, stamp)
    if existing is None:
        return None
    if existing.request_hash != stamp:
        raise Invalid(
            "此 Idempotency-Key 已用于另一个不同的请求",
            errors={"headers": {"Idempotency-Key": ["同一键只能重试同一请求；新请求请用新键"]}},
        )
    if existing.status is None:
        raise Conflict("相同请求正在处理，请稍后重试")
    response = Response(
        json.dumps(existing.response, ensure_ascii=False),
        existing.status,
        mimetype="application/json",
    )
    response.headers["Idempotent-Replayed"] = "true"
    return response


def remember(value: str | None, status: int, body: dict) -> None:
    """Keep the answer for the key's retries (committed with the work it answers)."""
    if value is not None:
        services.remember_answer(current_user, value, status, body)
