"""Who is calling: a browser login session (cookie) or a bearer token."""

from __future__ import annotations

from flask import Flask
from flask import request

from app.accounts import principals
from app.accounts import services
from app.audit import services as audit
from app.extensions import login_manager
from app.security import has_bearer


def init_auth(app: Flask) -> None:
    """Configure Flask-Login: server-side login sessions and bearer tokens."""
    login_manager.init_app(app)
    # Our own login sessions do what session protection would, and more (logout ends them).
    login_manager.session_protection = None
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "请先登录"
    principals.init_app(app)


@login_manager.user_loader
def load_user_from_session(login_session_id: str):
    """The user of a live login session; bearer requests ignore cookies."""
    if has_bearer():
        return None
    return services.check_login_session(login_session_id)


@login_manager.request_loader
def load_user_from_token(req):
    """The user of a valid `Authorization: Bearer ...` token; an invalid one is audited."""
    if not has_bearer():
        return None
    parts = request.headers["Authorization"].split(None, 1)
    secret = parts[1].strip() if len(parts) == 2 else ""
    user = services.check_token(secret)
    if user is None:
        audit.record(
            "auth.token",
            outcome="failure",
            actor=False,
            detail={"path": request.path, "prefix": secret[:12]},
            keep=True,  # the answer is usually 401: the request's rollback must not drop it
        )
    return user
