"""Accounts API: bearer tokens, one's own profile and password, user administration, audit."""

from __future__ import annotations

from flask import session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from sqlalchemy import or_
from sqlalchemy import select

from app.accounts import schemas
from app.accounts import services
from app.accounts.models import ApiToken
from app.accounts.models import User
from app.accounts.throttle import login_throttled
from app.audit import services as audit
from app.audit.models import AuditEntry
from app.errors import ApiError
from app.extensions import Blueprint
from app.extensions import db
from app.geo.models import Region
from app.policy import PERMISSIONS
from app.policy import deny
from app.policy import public
from app.policy import requires
from app.scoping import current_scope

blp = Blueprint("accounts_api", __name__, url_prefix="/api/v1", description="账号与权限 (accounts)")

BAD_LOGIN = "用户名或密码错误"


def account_error(exc: services.AccountError) -> ApiError:
    """An AccountError as a 422 naming the field."""
    field = exc.field or "_schema"
    return ApiError(422, exc.message, {"json": {field: [exc.message]}})


@blp.route("/auth/tokens", methods=["POST"])
@public
@login_throttled
@blp.arguments(schemas.TokenLoginSchema)
@blp.response(201, schemas.NewTokenSchema)
@blp.alt_response(401, response="DEFAULT_ERROR", description="用户名或密码错误（两者不区分）")
@blp.alt_response(429, response="DEFAULT_ERROR", description="失败次数过多")
def create_token_with_password(data):
    """Sign in with username and password and get a bearer token (shown once)."""
    user = services.authenticate(data["username"], data["password"])
    if user is None:
        audit.record(
            "auth.login",
            outcome="failure",
            actor=False,
            detail={"username": data["username"].strip().lower()[:40], "via": "api"},
        )
        db.session.commit()
        raise ApiError(401, BAD_LOGIN)
    audit.record(
        "auth.login",
        actor=user,
        object_type="user",
        object_id=user.id,
        region_code=user.region.code,
        detail={"via": "api"},
    )
    token, secret = services.create_token(user, data["name"], data.get("days"))
    db.session.commit()
    return token_answer(token, secret)


def token_answer(token: ApiToken, secret: str) -> ApiToken:
    """The answer for a token just created: the secret travels this once."""
    token.token = secret
    return token


@blp.route("/auth/tokens", methods=["GET"])
@requires("account.self")
@blp.response(200, schemas.TokenSchema(many=True))
def list_own_tokens():
    """The caller's own tokens (metadata only)."""
    return db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == current_user.id).order_by(ApiToken.id)
    ).all()


@blp.route("/auth/tokens/<int:token_id>", methods=["DELETE"])
@requires("account.self")
@blp.response(204)
@blp.alt_response(404, response="DEFAULT_ERROR")
def revoke_own_token(token_id: int):
    """Revoke one of the caller's own tokens."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        raise ApiError(404, "令牌不存在")
    services.revoke_token(token, current_user)
    db.session.commit()


@blp.route("/me")
@requires("account.self")
@blp.response(200, schemas.MeSchema)
def me():
    """The caller's profile and permissions (and a CSRF token for cookie sessions)."""
    user = current_user._get_current_object()
    user.csrf_token = None if user.via_token else generate_csrf()
    user.permissions = sorted(a for a, roles in PERMISSIONS.items() if user.role in roles)
    return user


@blp.route("/me/password", methods=["POST"])
@requires("account.self")
@blp.arguments(schemas.PasswordChangeSchema)
@blp.response(204)
@blp.alt_response(422, response="DEFAULT_ERROR")
def change_own_password(data):
    """Change one's password: every login session ends (this browser is signed in again)."""
    try:
        services.change_password(current_user, data["current_password"], data["new_password"])
    except services.AccountError as exc:
        raise account_error(exc) from None
    if not current_user.via_token:
        login = services.start_login_session(current_user, None)
        session["_user_id"] = login.id
    db.session.commit()


def scoped_user(user_id: int) -> User:
    """A user in the caller's subtree, else 404 (audited as a denial)."""
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(404, "用户不存在")
    if not current_scope().contains(user.region.code):
        deny("users.read", "user", user_id, status=404, message="用户不存在")
    return user


@blp.route("/users")
@requires("users.read")
@blp.arguments(schemas.UserQuery, location="query", as_kwargs=True)
@blp.response(200, schemas.UserSchema(many=True))
def list_users(role=None, active=None, region=None):
    """Users in the caller's region subtree."""
    scope = current_scope()
    stmt = select(User).join(User.region).where(scope.clause(Region.code)).order_by(User.username)
    if role:
        stmt = stmt.where(User.role == role)
    if active is not None:
        stmt = stmt.where(User.active.is_(active))
    if region:
        stmt = stmt.where(Region.code == region)
    return db.session.scalars(stmt).all()


@blp.route("/users", methods=["POST"])
@requires("users.manage")
@blp.arguments(schemas.UserCreateSchema)
@blp.response(201, schemas.UserSchema)
@blp.alt_response(422, response="DEFAULT_ERROR")
def create_user(data):
    """Create a user inside the caller's subtree."""
    if not current_scope().contains(data["region"]):
        raise ApiError(422, "只能在本辖区内创建用户", {"json": {"region": ["不在您的辖区内"]}})
    try:
        user = services.create_user(
            data["username"],
            data["password"],
            data["role"],
            data["region"],
            data.get("display_name"),
            data.get("phone"),
            data["grid_cells"],
        )
    except services.AccountError as exc:
        raise account_error(exc) from None
    db.session.commit()
    return user


@blp.route("/users/<int:user_id>")
@requires("users.read")
@blp.response(200, schemas.UserSchema)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_user(user_id: int):
    """One user of the caller's subtree."""
    return scoped_user(user_id)


@blp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@requires("users.manage")
@blp.response(200, schemas.UserSchema)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR")
def deactivate_user(user_id: int):
    """Deactivate a user: their sessions end and tokens are revoked."""
    user = scoped_user(user_id)
    if user.id == current_user.id:
        raise ApiError(409, "不能停用自己的账号")
    try:
        services.deactivate(user)
    except services.AccountError as exc:
        raise ApiError(409, exc.message) from None
    db.session.commit()
    return user


@blp.route("/users/<int:user_id>/password", methods=["POST"])
@requires("users.manage")
@blp.arguments(schemas.PasswordResetSchema)
@blp.response(204)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(422, response="DEFAULT_ERROR")
def reset_user_password(data, user_id: int):
    """Set a user's password; their sessions end."""
    user = scoped_user(user_id)
    try:
        services.reset_password(user, data["new_password"])
    except services.AccountError as exc:
        raise account_error(exc) from None
    db.session.commit()


@blp.route("/users/<int:user_id>/tokens", methods=["POST"])
@requires("users.manage")
@blp.arguments(schemas.TokenCreateSchema)
@blp.response(201, schemas.NewTokenSchema)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(422, response="DEFAULT_ERROR")
def create_user_token(data, user_id: int):
    """Create a bearer token for a user (an integration, a phone set up by the admin)."""
    user = scoped_user(user_id)
    try:
        token, secret = services.create_token(user, data["name"], data.get("days"), current_user)
    except services.AccountError as exc:
        raise account_error(exc) from None
    db.session.commit()
    return token_answer(token, secret)


@blp.route("/users/<int:user_id>/tokens/<int:token_id>", methods=["DELETE"])
@requires("users.manage")
@blp.response(204)
@blp.alt_response(404, response="DEFAULT_ERROR")
def revoke_user_token(user_id: int, token_id: int):
    """Revoke a user's token."""
    user = scoped_user(user_id)
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise ApiError(404, "令牌不存在")
    services.revoke_token(token, current_user)
    db.session.commit()


@blp.route("/audit")
@requires("audit.read")
@blp.arguments(schemas.AuditQuery, location="query", as_kwargs=True)
@blp.response(200, schemas.AuditEntrySchema(many=True))
def list_audit(limit: int, action=None, outcome=None, before_id=None):
    """Newest audit entries about the caller's subtree (by region or by an in-scope actor)."""
    scope = current_scope()
    in_scope_users = select(User.id).join(User.region).where(scope.clause(Region.code))
    stmt = (
        select(AuditEntry)
        .where(or_(scope.clause(AuditEntry.region_code), AuditEntry.actor_id.in_(in_scope_users)))
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if outcome:
        stmt = stmt.where(AuditEntry.outcome == outcome)
    if before_id:
        stmt = stmt.where(AuditEntry.id < before_id)
    return db.session.scalars(stmt).all()
