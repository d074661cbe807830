"""Account operations and reads. Services flush; the request boundary (or a command) commits."""

from __future__ import annotations

import hashlib
import re
import secrets
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

from app import pii
from app.accounts import principals
from app.accounts.models import ROLES
from app.accounts.models import ApiToken
from app.accounts.models import LoginSession
from app.accounts.models import User
from app.audit import services as audit
from app.core import clock
from app.core import transaction
from app.core.errors import Conflict
from app.core.errors import Invalid
from app.core.errors import NotFound
from app.dispatch.models import Department
from app.extensions import db
from app.geo.models import GridCell
from app.geo.models import Region
from app.policy import deny
from app.scoping import Scope
from app.scoping import current_scope

hasher = PasswordHasher()  # Argon2id with argon2-cffi's current defaults
# Verified against when the username is unknown, so both cases take the same time. A hash made
# once with these parameters: hashing at import cost every process about 0.3 s (each `flask`
# command, each gunicorn worker); made afresh only if argon2-cffi's defaults ever change.
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$D4s7hrxwM36RMLCWmxQXfw"
    "$ll60fjM9yY6SceN56NO3QoNeUsli9u2Esc/djuufFjc"
)
if hasher.check_needs_rehash(_DUMMY_HASH):
    _DUMMY_HASH = hasher.hash("gridgov-timing-equaliser")
USERNAME_RE = re.compile(r"^[a-z0-9_.-]{3,40}$")
TOKEN_PREFIX = "ggv_"
MIN_PASSWORD_LENGTH = 10
# How often a login session's last-seen time and a token's last use are written.
TOUCH_SESSION = timedelta(seconds=60)
TOUCH_TOKEN = timedelta(minutes=5)


def invalid(message: str, field: str) -> Invalid:
    """The 422 for a value of one field that cannot be accepted."""
    return Invalid(message, errors={"json": {field: [message]}})


def check_password_strength(password: str) -> None:
    """At least 10 characters, not all digits."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise invalid(_("密码至少 %(n)s 个字符", n=MIN_PASSWORD_LENGTH), "password")
    if password.isdigit():
        raise invalid(_("密码不能全是数字"), "password")


# Levels above the county (issue 17) and the roles that may hold them.
ABOVE_COUNTY = ("province", "prefecture")
ABOVE_COUNTY_ROLES = ("official", "admin")


def _department_for(role: str, region: Region, code: str | None) -> Department | None:
    """The unit of a department_staff user (required for that role, refused for the others)."""
    if role != "department_staff":
        if code:
            raise invalid(_("只有部门工作人员可以属于职能部门"), "department")
        return None
    if not code:
        raise invalid(_("部门工作人员须指定所属职能部门"), "department")
    department = db.session.scalar(select(Department).where(Department.code == code))
    if department is None or not department.active:
        raise invalid(_("职能部门 %(code)s 不存在或已停用", code=code), "department")
    if department.region_id != region.id:
        raise invalid(
            _("部门工作人员的辖区须为其部门所在区划（%(code)s）", code=department.region_code),
            "region",
        )
    return department


def create_user(
    username: str,
    password: str,
    role: str,
    region_code: str,
    display_name: str | None = None,
    phone: str | None = None,
    grid_codes: list[str] | None = None,
    department_code: str | None = None,
) -> User:
    """Create a user in a region; grid workers get one or more grid cells of their village.

    Department staff belong to one department (by its code), in the department's region.
    """
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise invalid(_("用户名应为 3–40 位小写字母、数字或 _ . -"), "username")
    if role not in ROLES:
        raise invalid(_("角色应为 %(roles)s 之一", roles=", ".join(ROLES)), "role")
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise invalid(_("用户名 %(name)s 已存在", name=username), "username")
    region = db.session.scalar(select(Region).where(Region.code == region_code))
    if region is None:
        raise invalid(_("区划 %(code)s 不存在", code=region_code), "region")
    if region.abolished:
        raise invalid(_("区划 %(code)s 已撤销", code=region_code), "region")
    if region.level in ABOVE_COUNTY and role not in ABOVE_COUNTY_ROLES:
        # issue 17: a 市/省 jurisdiction is for officials and admins only (they oversee counties)
        raise invalid(_("只有干部和管理员的辖区可以是市或省"), "region")
    if phone is not None and not re.match(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$", phone):
        raise invalid(_("电话应为 11 位手机号或带区号的固定电话"), "phone")
    department = _department_for(role, region, department_code)
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
        department=department,
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
            raise invalid(_("只有网格员可以分配网格"), "grid")
        return []
    if region.level != "village":
        raise invalid(_("网格员的辖区应为村/社区"), "region")
    if not grid_codes:
        raise invalid(_("网格员至少分配一个网格"), "grid")
    cells = list(db.session.scalars(select(GridCell).where(GridCell.code.in_(grid_codes))))
    found = {c.code for c in cells}
    missing = [c for c in grid_codes if c not in found]
    if missing:
        raise invalid(_("网格不存在：%(codes)s", codes=", ".join(missing)), "grid")
    outside = [c.code for c in cells if c.village_id != region.id]
    if outside:
        raise invalid(
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


def tried_username(typed: str | None) -> dict:
    """What the audit keeps of a username typed at a failed or throttled sign-in.

    An account's name as it is; anything else (people type their ID number or phone there) only
    as a keyed hash, to match repeated tries, and a masked copy (issue 19 item 9).
    """
    name = (typed or "").strip().lower()[:40]
    if name and db.session.scalar(select(User.id).where(User.username == name)) is not None:
        return {"username": name}
    masked = name[:1] + "*" * min(max(len(name) - 2, 1), 8) + name[-1:] if len(name) > 2 else "*"
    return {"username_hash": pii.keyed_hash(name), "username_masked": masked}


def sign_in(username: str, password: str, via: str) -> User | None:
    """`authenticate`, audited as `auth.login` (`via` "api" or "web").

    A failure's entry is kept although the request is refused (the boundary rolls it back).
    """
    user = authenticate(username, password)
    if user is None:
        audit.record(
            "auth.login",
            outcome="failure",
            actor=False,
            detail={**tried_username(username), "via": via},
            keep=True,
        )
        return None
    audit.record(
        "auth.login",
        actor=user,
        object_type="user",
        object_id=user.id,
        region_code=user.region.code,
        detail={"via": via},
    )
    return user


def start_login_session(user: User, client_addr: str | None) -> LoginSession:
    """Record a new browser login."""
    moment = clock.now()
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
        .values(ended_at=clock.now(), end_reason=reason)
    )
    if only is not None:
        stmt = stmt.where(LoginSession.id == only)
    return db.session.execute(stmt).rowcount


def check_login_session(session_id: str) -> User | None:
    """The user of a live login session; ends it when idle or past its absolute lifetime.

    Served from the authentication cache (app/accounts/principals.py) while nothing about the
    session or its user changed and its last-seen time needs no touch; else read again.
    """
    version = principals.version(db.session())
    moment = clock.now()
    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    absolute = timedelta(hours=current_app.config["SESSION_ABSOLUTE_HOURS"])
    key = "session:" + session_id
    known = principals.cache().get(key, version)
    if (
        known is not None
        and moment - known.created_at <= absolute
        and moment - known.seen_at <= min(idle, TOUCH_SESSION)
    ):
        user = principals.attach(db.session(), known)
        user.login_session_id = session_id
        return user
    login = db.session.get(LoginSession, session_id)
    if login is None or login.ended_at is not None:
        return None
    reason = None
    if not login.user.active:
        reason = "deactivated"
    elif moment - login.created_at > absolute:
        reason = "expired"
    elif moment - login.last_seen_at > idle:
        reason = "idle"
    # Kept whatever the request answers: a session that ended stays ended, and the idle clock
    # counts from the last request, refused or not (app/core/transaction.py).
    login_id = login.id
    if reason:
        transaction.keep(lambda: _update_login(login_id, ended_at=moment, end_reason=reason))
        return None
    seen_at = login.last_seen_at
    if moment - login.last_seen_at > TOUCH_SESSION:
        # Touch at most once a minute: the idle clock needs no finer grain.
        transaction.keep(lambda: _update_login(login_id, last_seen_at=moment))
        seen_at = moment
    user = login.user
    principals.cache().put(
        key,
        version,
        principals.principal_of(user, created_at=login.created_at, seen_at=seen_at),
    )
    user.login_session_id = login.id
    return user


def _update_login(login_id: str, **values) -> None:
    db.session.execute(update(LoginSession).where(LoginSession.id == login_id).values(**values))


def change_password(user: User, current: str, new: str) -> None:
    """Change one's own password; every login session of the user ends."""
    try:
        hasher.verify(user.password_hash, current or "")
    except (VerificationError, InvalidHashError):
        raise invalid(_("当前密码不正确"), "current_password") from None
    check_password_strength(new)
    _set_password(user, new, "password_changed")
    audit.record("account.password_change", object_type="user", object_id=user.id)


def change_own_password(
    user: User, current: str, new: str, client_addr: str | None
) -> LoginSession | None:
    """`change_password`, then a new login session for the browser that asked (None for a token).

    The caller puts the session's id in the cookie session, so this browser stays signed in.
    """
    change_password(user, current, new)
    return None if user.via_token else start_login_session(user, client_addr)


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
    """A new password ends every login session and revokes every API token of the user.

    A token is a credential like a session: one minted with the old password (on a lost phone,
    say) must not outlive the change that was meant to lock it out (issue 19 item 7).
    """
    user.password_hash = hasher.hash(new)
    user.password_changed_at = clock.now()
    end_login_sessions(user, reason)
    revoke_tokens(user)
    db.session.flush()


def revoke_tokens(user: User) -> int:
    """Revoke every live API token of the user; answer how many."""
    result = db.session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )
    return result.rowcount


def deactivate(user: User) -> None:
    """Deactivate a user (never deleted): sessions end and tokens are revoked."""
    if not user.active:
        raise Conflict(_("用户 %(name)s 已停用", name=user.username))
    user.active = False
    user.deactivated_at = clock.now()
    end_login_sessions(user, "deactivated")
    revoke_tokens(user)
    db.session.flush()
    audit.record(
        "users.deactivate", object_type="user", object_id=user.id, region_code=user.region.code
    )


def hash_token(token: str) -> str:
    """Tokens are random enough that a plain SHA-256 is the right hash (no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """A new bearer token of `user`, made by that user (docs/security.md: nobody mints a token
    for someone else, so every action done with a token is its owner's); the secret is returned
    once and only its hash is kept."""
    if not user.active:
        raise invalid(_("用户 %(name)s 已停用", name=user.username), "user")
    days = days or current_app.config["API_TOKEN_DAYS"]
    if not 1 <= days <= 366:
        raise invalid(_("有效期应为 1–366 天"), "days")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=(name or "token").strip()[:60],
        token_hash=hash_token(secret),
        prefix=secret[:12],
        created_by_id=user.id,
        expires_at=clock.now() + timedelta(days=days),
    )
    db.session.add(token)
    db.session.flush()
    audit.record(
        "tokens.create",
        actor=user,
        object_type="api_token",
        object_id=token.id,
        region_code=user.region.code,
        detail={"user": user.username, "days": days},
    )
    return token, secret


def token_key(secret: str) -> str:
    """The authentication cache's key of a token (app/accounts/principals.py)."""
    return "token:" + hash_token(secret)


def token_entry_fresh(known: principals.Principal, moment) -> bool:
    """Whether a cached token principal may answer at `moment`: the token has not expired and
    its last use is recent enough that no touch is due (else the plain path reads it again)."""
    return known.expires_at > moment and moment - known.seen_at <= TOUCH_TOKEN


def check_token(secret: str) -> User | None:
    """The active user of a live token, or None.

    Served from the authentication cache (app/accounts/principals.py) while nothing about the
    token or its user changed, it has not expired and its last use needs no touch; else read
    again (and the cache refilled).
    """
    if not secret.startswith(TOKEN_PREFIX):
        return None
    version = principals.version(db.session())
    digest = hash_token(secret)
    key = token_key(secret)
    moment = clock.now()
    known = principals.cache().get(key, version)
    if known is not None and token_entry_fresh(known, moment):
        user = principals.attach(db.session(), known)
        user.via_token = True
        return user
    # One round trip for the token, its user and their region.
    token = db.session.scalar(
        select(ApiToken)
        .where(ApiToken.token_hash == digest)
        .options(joinedload(ApiToken.user).joinedload(User.region).defer(Region.boundary))
    )
    if token is None or token.revoked_at is not None or token.expires_at <= moment:
        return None
    if not token.user.active:
        return None
    if token.created_by_id not in (None, token.user_id):
        # Minted by an administrator for this user (allowed before issue 19): such a token
        # would act in its owner's name without them, so it no longer authenticates.
        return None
    seen_at = token.last_used_at
    if token.last_used_at is None or moment - token.last_used_at > TOUCH_TOKEN:
        token_id = token.id
        # SKIP LOCKED: a request that finds the row being touched by another (whose transaction
        # holds it to its commit) leaves it to that one instead of waiting for it (issue 18:
        # concurrent requests of one token queued there).
        unlocked = (
            select(ApiToken.id)
            .where(ApiToken.id == token_id)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        transaction.keep(
            lambda: db.session.execute(
                update(ApiToken).where(ApiToken.id == unlocked).values(last_used_at=moment)
            )
        )
        seen_at = moment
    user = token.user
    principals.cache().put(
        key, version, principals.principal_of(user, expires_at=token.expires_at, seen_at=seen_at)
    )
    user.via_token = True
    return user


def revoke_token(token: ApiToken, by: User) -> None:
    """Revoke a token (idempotent)."""
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        db.session.flush()
    audit.record(
        "tokens.revoke",
        actor=by,
        object_type="api_token",
        object_id=token.id,
        region_code=token.user.region.code,
    )


# --- reads --------------------------------------------------------------------------------------


def users_in_scope(
    scope: Scope, role: str | None = None, active: bool | None = None, region: str | None = None
) -> list[User]:
    """Users of a region subtree, by username, optionally by role, state and region code."""
    stmt = select(User).join(User.region).where(scope.clause(Region.code)).order_by(User.username)
    if role:
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    if region:
        stmt = stmt.where(Region.code == region)
    return list(db.session.scalars(stmt))


def scoped_user(user_id: int) -> User:
    """A user in the caller's subtree, else 404 (audited as a denial when it exists elsewhere)."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在")
    if not current_scope().contains(user.region.code):
        deny("users.read", "user", user_id, status=404, message="用户不存在")
    return user


def own_tokens(user: User) -> list[ApiToken]:
    """A user's tokens (metadata), oldest first."""
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
        )
    )


def token_of(user: User, token_id: int) -> ApiToken:
    """One of a user's tokens, else 404."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("令牌不存在")
    return token


def count_users() -> int:
    """How many users exist."""
    return db.session.scalar(select(func.count()).select_from(User))
