"""Sign-in pages: login, logout, password change, one's own API tokens.

The request boundary commits (app/core/transaction.py); a refused sign-in's audit entry is kept
through the rollback of its 401.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_login import login_user
from flask_login import logout_user

from app.accounts import services
from app.accounts.throttle import login_throttled
from app.audit import services as audit
from app.core.errors import DomainError
from app.policy import public
from app.policy import requires
from app.web import tasks
from app.web.forms import NO_FAILURE
from app.web.forms import Failure

bp = Blueprint("accounts", __name__, template_folder="../templates")


def safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target if not urlsplit(target).netloc else url_for("accounts.home")
    return url_for("accounts.home")


@bp.route("/")
@requires("account.self")
def home():
    """The signed-in start page: my tasks (我的待办) first, then the links of my work."""
    return tasks.home_page()


@bp.route("/login", methods=["GET", "POST"])
@public
@login_throttled
def login():
    """Sign in with username and password."""
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(safe_next(request.args.get("next")))
        return render_template("accounts/login.html", failed=NO_FAILURE)
    username = request.form.get("username", "")
    user = services.sign_in(username, request.form.get("password", ""), "web")
    if user is None:
        # The same answer whether the user exists or not; the username stays as typed.
        failed = Failure.of("login", None, login_field_names(), message=_("用户名或密码错误"))
        return render_template("accounts/login.html", failed=failed), 401
    login_session = services.start_login_session(user, request.remote_addr)
    session.clear()
    session.permanent = True
    login_user(user)
    session["_user_id"] = login_session.id
    return redirect(safe_next(request.args.get("next")))


@bp.route("/logout", methods=["POST"])
@public
def logout():
    """Sign out: the login session ends on the server, so a copied cookie dies too."""
    if current_user.is_authenticated and current_user.login_session_id:
        services.end_login_sessions(current_user, "logout", only=current_user.login_session_id)
        audit.record(
            "auth.logout",
            object_type="user",
            object_id=current_user.id,
            region_code=current_user.region.code,
        )
    logout_user()
    session.clear()
    flash(_("已退出登录"), "info")
    return redirect(url_for("accounts.login"))


def login_field_names() -> dict[str, str]:
    """Display names of the login form's fields."""
    return {"username": _("用户名"), "password": _("密码")}


def password_field_names() -> dict[str, str]:
    """Display names of the password form's fields."""
    return {
        "current_password": _("当前密码"),
        "new_password": _("新密码"),
        "confirm_password": _("再次输入新密码"),
    }


def password_refused(field: str | None, message: str):
    """The password page again (422), the message beside the field it is about."""
    name = {"password": "new_password"}.get(field, field)
    failed = Failure.of(
        "password",
        lambda reason: _("密码未修改：%(reason)s", reason=reason),
        password_field_names(),
        errors={name: [message]} if name else {},
        message="" if name else message,
    )
    return render_template("accounts/password.html", failed=failed), 422


@bp.route("/account/password", methods=["GET", "POST"])
@requires("account.self")
def password():
    """Change one's own password; every other login session ends."""
    if request.method == "GET":
        return render_template("accounts/password.html", failed=NO_FAILURE)
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        return password_refused("confirm_password", _("两次输入的新密码不一致"))
    try:
        login_session = services.change_own_password(
            current_user, request.form.get("current_password", ""), new, request.remote_addr
        )
    except DomainError as exc:
        fields = exc.errors.get("json") or {}
        return password_refused(next(iter(fields), None), exc.message)
    if login_session is not None:
        session["_user_id"] = login_session.id
    flash(_("密码已修改，其他设备上的登录已失效"), "success")
    return redirect(url_for("accounts.home"))


@bp.route("/account/tokens", methods=["GET", "POST"])
@requires("account.self")
def tokens():
    """One's own API tokens (a phone app, an integration account's): list, create (the secret is
    shown on that answer only), revoke. Nobody can make a token for someone else."""
    secret, failed, status = None, NO_FAILURE, 200
    if request.method == "POST":
        days = request.form.get("days", "").strip()
        try:
            if days and not (days.isdigit() and int(days) > 0):
                raise services.invalid(_("有效期应为 1–366 天"), "days")
            _token, secret = services.create_token(
                current_user,
                request.form.get("name", "").strip() or "web",
                int(days) if days else None,
            )
        except DomainError as exc:
            fields = exc.errors.get("json") or {}
            failed = Failure.of(
                "token",
                lambda reason: _("未能创建令牌：%(reason)s", reason=reason),
                {"name": _("名称"), "days": _("有效天数")},
                errors=fields,
                message="" if fields else exc.message,
            )
            status = 422
    return (
        render_template(
            "accounts/tokens.html",
            tokens=services.own_tokens(current_user),
            new_secret=secret,
            failed=failed,
        ),
        status,
    )


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@requires("account.self")
def revoke_own_token(token_id: int):
    """Revoke one of one's own tokens."""
    token = services.token_of(current_user, token_id)
    services.revoke_token(token, current_user)
    flash(_("已吊销令牌 %(name)s", name=token.name), "success")
    return redirect(url_for("accounts.tokens"))
