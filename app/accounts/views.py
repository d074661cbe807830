"""Sign-in pages: login, logout, password change."""

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
from app.extensions import db
from app.policy import public
from app.policy import requires

bp = Blueprint("accounts", __name__, template_folder="../templates")


def safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after login."""
    if target and target.startswith("/") and not target.startswith("//"):
        return target if not urlsplit(target).netloc else url_for("accounts.home")
    return url_for("accounts.home")


@bp.route("/")
@requires("account.self")
def home():
    """The signed-in start page."""
    return render_template("accounts/home.html")


@bp.route("/login", methods=["GET", "POST"])
@public
@login_throttled
def login():
    """Sign in with username and password."""
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(safe_next(request.args.get("next")))
        return render_template("accounts/login.html")
    username = request.form.get("username", "")
    user = services.authenticate(username, request.form.get("password", ""))
    if user is None:
        audit.record(
            "auth.login",
            outcome="failure",
            actor=False,
            detail={"username": username.strip().lower()[:40], "via": "web"},
        )
        db.session.commit()
        # The same answer whether the user exists or not.
        return render_template("accounts/login.html", error=_("用户名或密码错误")), 401
    login_session = services.start_login_session(user, request.remote_addr)
    audit.record(
        "auth.login",
        actor=user,
        object_type="user",
        object_id=user.id,
        region_code=user.region.code,
        detail={"via": "web"},
    )
    db.session.commit()
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
        db.session.commit()
    logout_user()
    session.clear()
    flash(_("已退出登录"), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@requires("account.self")
def password():
    """Change one's own password; every other login session ends."""
    if request.method == "GET":
        return render_template("accounts/password.html")
    new = request.form.get("new_password", "")
    if new != request.form.get("confirm_password", ""):
        return render_template("accounts/password.html", error=_("两次输入的新密码不一致")), 422
    try:
        services.change_password(current_user, request.form.get("current_password", ""), new)
    except services.AccountError as exc:
        return render_template("accounts/password.html", error=exc.message), 422
    login_session = services.start_login_session(current_user, request.remote_addr)
    db.session.commit()
    session["_user_id"] = login_session.id
    flash(_("密码已修改，其他设备上的登录已失效"), "success")
    return redirect(url_for("accounts.home"))
