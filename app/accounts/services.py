"""Account operations. Services flush; the caller commits."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from sqlalchemy.orm import joinedload

from app.accounts.models import ROLES
from app.accounts.models import ApiToken
from app.accounts.models import LoginSession
from app.accounts.models import User
from app.audit import services as audit
from app.extensions import db
from app.geo.models import GridCell
from app.geo.models import Region

hasher = PasswordHasher()  # Argon2id with argon2-cffi's current defaults
# Verified against when the username is unknown, so both cases take the same time.
_DUMMY_HASH = hasher.hash("gridgov-timing-equaliser")
USERNAME_RE = re.compile(r"^[a-z0-9_.-]{3,40}$")
TOKEN_PREFIX = "ggv_"
MIN_PASSWORD_LENGTH = 10


class AccountError(Exception):
    """A request about accounts that cannot be done; `field` names the culprit."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def now() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def check_password_strength(password: str) -> None:
    """At least 10 characters, not all digits."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(_("密码至少 %(n)s 个字符", n=MIN_PASSWORD_LENGTH), "password")
    if password.isdigit():
        raise AccountError(_("密码不能全是数字"), "password")


def create_user(
    username: str,
    password: str,
    role: str,
    region_code: str,
    display_name: str | None = None,
    phone: str | None = None,
    grid_codes: list[str] | None = None,
) -> User:
    """Create a user in a region; grid workers get one or more grid cells of their village."""
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise AccountError(_("用户名应为 3–40 位小写字母、数字或 _ . -"), "username")
    if role not in ROLES:
        raise AccountError(_("角色应为 %(roles)s 之一", roles=", ".join(ROLES)), "role")
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise AccountError(_("用户名 %(name)s 已存在", name=username), "username")
    region = db.session.scalar(select(Region).where(Region.code == region_code))
    if region is None:
        raise AccountError(_("区划 %(code)s 不存在", code=region_code), "region")
    if region.abolished:
        raise AccountError(_("区划 %(code)s 已撤销", code=region_code), "region")
    if phone is not None and not re.match(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$", phone):
        raise AccountError(_("电话应为 11 位手机号或带区号的固定电话"), "phone")
    check_password_strength(password)
    cells = _grid_cells_for(role, region, grid_codes or [])
    user = User(
        username=username,
        display_name=(display_name or username).strip()[:50],
        phone=phone,
        role=role,
        region=region,
        password_hash=hasher.hash(password),
        grid_cells=cells,
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        "users.create",
        object_type="user",
        object_id=user.id,
        region_code=region.code,
        detail={"username": username, "role": role},
    )
    return user


def _grid_cells_for(role: str, region: Region, grid_codes: list[str]) -> list[GridCell]:
    if role != "grid_worker":
        if grid_codes:
            raise AccountError(_("只有网格员可以分配网格"), "grid")
        return []
    if region.level != "village":
        raise AccountError(_("网格员的辖区应为村/社区"), "region")
    if not grid_codes:
        raise AccountError(_("网格员至少分配一个网格"), "grid")
    cells = list(db.session.scalars(select(GridCell).where(GridCell.code.in_(grid_codes))))
    found = {c.code for c in cells}
    missing = [c for c in grid_codes if c not in found]
    if missing:
        raise AccountError(_("网格不存在：%(codes)s", codes=", ".join(missing)), "grid")
    outside = [c.code for c in cells if c.village_id != region.id]
    if outside:
        raise AccountError(
            _("网格不属于 %(name)s：%(codes)s", name=region.name, codes=", ".join(outside)), "grid"
        )
    return cells


def authenticate(username: str, password: str) -> User | None:
    """The active user with this password, or None; unknown users take the same time."""
    username = (username or "").strip().lower()
    user = db.session.scalar(select(User).where(User.username == username)) if username else None
    try:
        hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        # Parameters changed since this hash was made: upgrade it now that we know the password.
        user.password_hash = hasher.hash(password)
    return user


def start_login_session(user: User, client_addr: str | None) -> LoginSession:
    """Record a new browser login."""
    moment = now()
    login = LoginSession(
        id=secrets.token_urlsafe(32),
        user=user,
        created_at=moment,
        last_seen_at=moment,
        client_addr=client_addr,
    )
    db.session.add(login)
    db.session.flush()
    user.login_session_id = login.id
    return login


def end_login_sessions(user: User, reason: str, only: str | None = None) -> int:
    """End one (or every) open login session of a user."""
    stmt = (
        update(LoginSession)
        .where(LoginSession.user_id == user.id, LoginSession.ended_at.is_(None))
        .values(ended_at=now(), end_reason=reason)
    )
    if only is not None:
        stmt = stmt.where(LoginSession.id == only)
    return db.session.execute(stmt).rowcount


def check_login_session(session_id: str) -> User | None:
    """The user of a live login session; ends it when idle or past its absolute lifetime."""
    login = db.session.get(LoginSession, session_id)
    if login is None or login.ended_at is not None:
        return None
    moment = now()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    absolute = timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])
    reason = None
    if not login.user.active:
        reason = "deactivated"
    elif moment - login.created_at > absolute:
        reason = "expired"
    elif moment - login.last_seen_at > idle:
        reason = "idle"
    if reason:
        login.ended_at, login.end_reason = moment, reason
        db.session.commit()
        return None
    if moment - login.last_seen_at > timedelta(seconds=60):
        # Touch at most once a minute: the idle clock needs no finer grain.
        login.last_seen_at = moment
        db.session.commit()
    login.user.login_session_id = login.id
    return login.user


def change_password(user: User, current: str, new: str) -> None:
    """Change one's own password; every login session of the user ends."""
    try:
        hasher.verify(user.password_hash, current or "")
    except (VerificationError, InvalidHashError):
        raise AccountError(_("当前密码不正确"), "current_password") from None
    check_password_strength(new)
    _set_password(user, new, "password_changed")
    audit.record("account.password_change", object_type="user", object_id=user.id)


def reset_password(user: User, new: str) -> None:
    """An admin sets a user's password; every login session of the user ends."""
    check_password_strength(new)
    _set_password(user, new, "password_reset")
    audit.record(
        "users.reset_password",
        object_type="user",
        object_id=user.id,
        region_code=user.region.code,
    )


def _set_password(user: User, new: str, reason: str) -> None:
    user.password_hash = hasher.hash(new)
    user.password_changed_at = now()
    end_login_sessions(user, reason)
    db.session.flush()


def deactivate(user: User) -> None:
    """Deactivate a user (never deleted): sessions end and tokens are revoked."""
    if not user.active:
        raise AccountError(_("用户 %(name)s 已停用", name=user.username))
    user.active = False
    user.deactivated_at = now()
    end_login_sessions(user, "deactivated")
    db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    db.session.flush()
    audit.record(
        "users.deactivate", object_type="user", object_id=user.id, region_code=user.region.code
    )


def hash_token(token: str) -> str:
    """Tokens are random enough that a plain SHA-256 is the right hash (no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    user: User, name: str, days: int | None = None, created_by: User | None = None
) -> tuple[ApiToken, str]:
    """A new bearer token; the secret is returned once and only its hash is kept."""
    if not user.active:
        raise AccountError(_("用户 %(name)s 已停用", name=user.username), "user")
    days = days or current_app.config["API_TOKEN_DAYS"]
    if not 1 <= days <= 366:
        raise AccountError(_("有效期应为 1–366 天"), "days")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=(name or "token").strip()[:60],
        token_hash=hash_token(secret),
        prefix=secret[:12],
        created_by_id=(created_by or user).id,
        expires_at=now() + timedelta(days=days),
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "tokens.create",
        actor=created_by or user,
        object_type="api_token",
        object_id=token.id,
        region_code=user.region.code,
        detail={"user": user.username, "days": days},
    )
    return token, secret


def check_token(secret: str) -> User | None:
    """The active user of a live token, or None."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    # One round trip for the token, its user and their region: every API request pays it.
    token = db.session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == hash_token(secret))
        .options(joinedload(ApiToken.user).joinedload(User.region).defer(Region.boundary))
    )
    moment = now()
    if token is None or token.revoked_at is not None or token.expires_at <= moment:
        return None
    if not token.user.active:
        return None
    if token.last_used_at is None or moment - token.last_used_at > timedelta(minutes=5):
        token.last_used_at = moment
        db.session.commit()
    token.user.via_token = True
    return token.user


def revoke_token(token: ApiToken, by: User) -> None:
    """Revoke a token (idempotent)."""
    if token.revoked_at is None:
        token.revoked_at = now()
        db.session.flush()
    audit.record(
        "tokens.revoke",
        actor=by,
        object_type="api_token",
        object_id=token.id,
        region_code=token.user.region.code,
    )


def count_users() -> int:
    """How many users exist."""
    return db.session.scalar(select(func.count()).select_from(User))
