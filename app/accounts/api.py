"""Accounts API: bearer tokens, one's own profile and password, user administration."""

from __future__ import annotations

from flask import session
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

from app.accounts import schemas
from app.accounts import services
from app.accounts.models import ApiToken
from app.accounts.throttle import login_throttled
from app.core.errors import Conflict
from app.core.errors import DomainError
from app.core.errors import Invalid
from app.extensions import Blueprint
from app.policy import PERMISSIONS
from app.policy import public
from app.policy import requires
from app.scoping import current_scope

blp = Blueprint("accounts_api", __name__, url_prefix="/api/v1", description="账号与权限 (accounts)")

BAD_LOGIN = "用户名或密码错误"


# The pages read users through the services (app/web/admin.py still imports it from here).


@blp.route("/auth/tokens", methods=["POST"])
@public
@login_throttled
@blp.arguments(schemas.TokenLoginSchema)
@blp.response(201, schemas.NewTokenSchema)
@blp.alt_response(401, response="DEFAULT_ERROR", description="用户名或密码错误（两者不区分）")
@blp.alt_response(429, response="DEFAULT_ERROR", description="失败次数过多")
def create_token_with_password(data):
    """Sign in with username and password and get a bearer token (shown once)."""
    user = services.sign_in(data["username"], data["password"], "api")
    if user is None:
        raise DomainError(401, BAD_LOGIN)
    token, secret = services.create_token(user, data["name"], data.get("days"))
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
    return services.own_tokens(current_user)


@blp.route("/auth/tokens/<int:token_id>", methods=["DELETE"])
@requires("account.self")
@blp.response(204)
@blp.alt_response(404, response="DEFAULT_ERROR")
def revoke_own_token(token_id: int):
    """Revoke one of the caller's own tokens."""
    services.revoke_token(services.token_of(current_user, token_id), current_user)


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
    login = services.change_own_password(
        current_user, data["current_password"], data["new_password"], None
    )
    if login is not None:
        session["_user_id"] = login.id


@blp.route("/users")
@requires("users.read")
@blp.arguments(schemas.UserQuery, location="query", as_kwargs=True)
@blp.response(200, schemas.UserSchema(many=True))
def list_users(role=None, active=None, region=None):
    """Users in the caller's region subtree."""
    return services.users_in_scope(current_scope(), role, active, region)


@blp.route("/users", methods=["POST"])
@requires("users.manage")
@blp.arguments(schemas.UserCreateSchema)
@blp.response(201, schemas.UserSchema)
@blp.alt_response(422, response="DEFAULT_ERROR")
def create_user(data):
    """Create a user inside the caller's subtree."""
    if not current_scope().contains(data["region"]):
        raise Invalid("只能在本辖区内创建用户", errors={"json": {"region": ["不在您的辖区内"]}})
    return services.create_user(
        data["username"],
        data["password"],
        data["role"],
        data["region"],
        data.get("display_name"),
        data.get("phone"),
        data["grid_cells"],
        department_code=data.get("department"),
    )


@blp.route("/users/<int:user_id>")
@requires("users.read")
@blp.response(200, schemas.UserSchema)
@blp.alt_response(404, response="DEFAULT_ERROR")
def get_user(user_id: int):
    """One user of the caller's subtree."""
    return services.scoped_user(user_id)


@blp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@requires("users.manage")
@blp.response(200, schemas.UserSchema)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(409, response="DEFAULT_ERROR")
def deactivate_user(user_id: int):
    """Deactivate a user: their sessions end and tokens are revoked."""
    user = services.scoped_user(user_id)
    if user.id == current_user.id:
        raise Conflict("不能停用自己的账号")
    services.deactivate(user)
    return user


@blp.route("/users/<int:user_id>/password", methods=["POST"])
@requires("users.manage")
@blp.arguments(schemas.PasswordResetSchema)
@blp.response(204)
@blp.alt_response(404, response="DEFAULT_ERROR")
@blp.alt_response(422, response="DEFAULT_ERROR")
def reset_user_password(data, user_id: int):
    """Set a user's password; their sessions end."""
    services.reset_password(services.scoped_user(user_id), data["new_password"])


@blp.route("/users/<int:user_id>/tokens/<int:token_id>", methods=["DELETE"])
@requires("users.manage")
@blp.response(204)
@blp.alt_response(404, response="DEFAULT_ERROR")
def revoke_user_token(user_id: int, token_id: int):
    """Revoke a user's token."""
    user = services.scoped_user(user_id)
    services.revoke_token(services.token_of(user, token_id), current_user)
