"""The action runner: one sequence for every workflow action, from the API or a page.

    visible (the caller loaded the object in scope, else 404)
    → check (action, role, version, state, level: the feature's rule table)
    → load the body (the action's schema: 422 naming each field)
    → apply (the feature's service) and flush
    → the request boundary commits (app/core/transaction.py)

Everything from `check` on runs in a SAVEPOINT: a refusal, invalid data or a version that went
stale at flush leaves nothing written and the request's session usable (a page re-renders its
form from it). Cases (app/cases/workflow.py) and risk points (app/risks/actions.py) both run
through here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError
from sqlalchemy.orm.exc import StaleDataError

from app.core.errors import BadRequest
from app.core.errors import Invalid
from app.core.errors import stale
from app.extensions import db

IF_MATCH = re.compile(r'(?:W/)?"?(\d+)"?')


def version_from(if_match: str | None, body: dict | None, *, form: bool = False) -> int | None:
    """The version the caller saw: If-Match ("3" or W/"3"), else the body's `version`.

    In a JSON body the version is a JSON integer: "1" (a string) or true is a 422 naming the
    field, not a version that never matches (it was answered 409 as if someone else had changed
    the object). A form body (`form`: multipart, every value text) gives it as digits.
    """
    if if_match:
        match = IF_MATCH.fullmatch(if_match.strip())
        if not match:
            raise BadRequest('If-Match 应为版本号，如 "3"')
        return int(match.group(1))
    version = (body or {}).get("version")
    if version is None:
        return None
    if form and isinstance(version, str) and version.isascii() and version.isdigit():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        where = "form" if form else "json"
        raise Invalid(
            "版本号有误：应为正整数，如 3",
            {where: {"version": ["应为正整数（JSON 数字，不是字符串），如 3"]}},
        )
    return version


@dataclass(frozen=True)
class Step:
    """One action as the runner sees it: how to check it, its body schema, and how to apply it."""

    schema: type[Schema]
    apply: Callable[[Any, dict], Any]
    check: Callable[[], None] | None = None


def run(step: Step, subject, body: Any, *, version=None, stale_message: str | None = None):
    """Check, load and apply one action on `subject`, all or nothing; answer the service's result.

    Raises the service's DomainError, Invalid for a body that does not load (errors under
    "json", as the API answers them), and a 409 `stale` when another request changed the row
    first.
    """
    try:
        with db.session.begin_nested():
            if step.check is not None:
                step.check()
            if not isinstance(body, dict):
                raise Invalid(errors={"json": {"_schema": ["请求体应为 JSON 对象"]}})
            try:
                data = step.schema().load(body)
            except ValidationError as exc:
                raise Invalid(errors={"json": exc.messages}) from None
            result = step.apply(subject, data)
            db.session.flush()
    except StaleDataError:
        raise stale(version, message=stale_message) from None
    return result
