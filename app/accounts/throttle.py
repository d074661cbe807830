"""Login throttling: failed attempts per account and per client address (Flask-Limiter)."""

from __future__ import annotations

from flask import current_app
from flask import request

from app.accounts import services
from app.audit import services as audit
from app.extensions import limiter


def submitted_username() -> str:
    """The username a login request names (form or JSON), normalised."""
    data = request.get_json(silent=True) if request.is_json else request.form
    value = data.get("username", "") if hasattr(data, "get") else ""
    return str(value).strip().lower()[:40]


def _account_key() -> str:
    return "account:" + submitted_username()


def _failed(response) -> bool:
    # Only failed sign-ins count, so a user who types correctly is never locked out by others.
    return response.status_code == 401


def _breached(request_limit) -> None:
    audit.record(
        "auth.login",
        outcome="denied",
        actor=False,
        detail={**services.tried_username(submitted_username()), "reason": "throttled"},
        keep=True,  # the answer is 429: the request's rollback must not drop it
    )


def login_throttled(view):
    """At most LOGIN_LIMIT_ACCOUNT failures per account and LOGIN_LIMIT_ADDRESS per address."""
    view = limiter.shared_limit(
        lambda: current_app.config["LOGIN_LIMIT_ACCOUNT"],
        key_func=_account_key,
        scope="login-account",
        deduct_when=_failed,
        on_breach=_breached,
    )(view)
    return limiter.shared_limit(
        lambda: current_app.config["LOGIN_LIMIT_ADDRESS"],
        scope="login-address",
        deduct_when=_failed,
        on_breach=_breached,
    )(view)
