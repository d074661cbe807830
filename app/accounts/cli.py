"""`flask users create|deactivate|token create`."""

import sys

import click
from sqlalchemy import select

from app.accounts import services
from app.accounts.models import ROLES
from app.accounts.models import User
from app.core.errors import DomainError
from app.extensions import db


@click.group("users")
def users_cli():
    """Users and API tokens."""


def read_password() -> str:
    """From a hidden prompt at a terminal, else the first line of stdin (never an argument)."""
    if sys.stdin.isatty():
        return click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")
    return sys.stdin.readline().rstrip("\n")


def fail(message: str) -> None:
    """Print an error and exit 1, writing nothing."""
    db.session.rollback()
    click.echo(f"失败：{message}", err=True)
    sys.exit(1)


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--region", "region_code", required=True, help="12-digit region code")
@click.option("--grid", "grid_codes", multiple=True, help="grid cell code (grid workers)")
@click.option("--name", "display_name", help="display name")
@click.option("--phone", help="mobile or landline")
@click.option("--department", "department_code", help="unit code (department_staff)")
def create_command(username, role, region_code, grid_codes, display_name, phone, department_code):
    """Create a user; the password is read from a prompt or stdin."""
    password = read_password()
    try:
        user = services.create_user(
            username,
            password,
            role,
            region_code,
            display_name,
            phone,
            list(grid_codes),
            department_code=department_code,
        )
    except DomainError as exc:
        fail(exc.message)
    db.session.commit()
    unit = f"，{user.department.name}" if user.department else ""
    click.echo(f"已创建用户 {user.username}（{role}，{user.region.name}{unit}）")


def find_user(username: str) -> User:
    """The user by username, or exit 1."""
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        fail(f"用户 {username} 不存在")
    return user


@users_cli.command("deactivate")
@click.argument("username")
def deactivate_command(username):
    """Deactivate a user: sessions end, tokens are revoked."""
    user = find_user(username)
    try:
        services.deactivate(user)
    except DomainError as exc:
        fail(exc.message)
    db.session.commit()
    click.echo(f"已停用用户 {user.username}")


@users_cli.group("token")
def token_cli():
    """API tokens."""


@token_cli.command("create")
@click.argument("username")
@click.option("--name", default="命令行", help="what the token is for")
@click.option("--days", type=int, default=None, help="validity in days (default API_TOKEN_DAYS)")
def token_create_command(username, name, days):
    """Create a bearer token; the secret is printed once."""
    user = find_user(username)
    try:
        token, secret = services.create_token(user, name, days)
    except DomainError as exc:
        fail(exc.message)
    db.session.commit()
    click.echo(f"令牌 #{token.id}（{token.name}），有效期至 {token.expires_at:%Y-%m-%d}：")
    click.echo(secret)
