"""User administration: API and CLI, validation, scope, deactivation."""

import pytest
from sqlalchemy import func
from sqlalchemy import select

from app.accounts.models import ApiToken
from app.accounts.models import User
from app.audit.models import AuditEntry
from app.extensions import db
from tests.accounts.helpers import login
from tests.factories import OTHER_VILLAGE
from tests.factories import PASSWORD
from tests.factories import bearer
from tests.geo.factories import VILLAGE
from tests.geo.factories import VILLAGE_B


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


def user_named(username: str) -> User | None:
    """The user with this username, or None."""
    return db.session.scalar(select(User).where(User.username == username))


def test_admin_creates_grid_worker(client, world):
    """201 with the user (phone masked), the row and its cell exist, the act is audited."""
    response = client.post(
        "/api/v1/users",
        json={
            "username": "new-worker",
            "password": "a-strong-password",
            "role": "grid_worker",
            "region": VILLAGE,
            "display_name": "新网格员",
            "phone": "13812345678",
            "grid_cells": [f"{VILLAGE}002"],
        },
        headers=bearer(world["admin@town"]),
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["phone"] == "138****5678"
    assert body["grid_cells"] == [{"code": f"{VILLAGE}002", "name": "东村第2网格"}]
    user = user_named("new-worker")
    assert user.phone == "13812345678" and user.role == "grid_worker"
    assert "a-strong-password" not in user.password_hash
    entry = db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "users.create").order_by(AuditEntry.id.desc())
    )
    assert (entry.actor, entry.object_id) == ("admin-town", str(user.id))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"username": "AB"}, "username", "Length must be between 3 and 40."),
        ({"username": "bad name!"}, "username", "用户名应为"),
        ({"password": "short"}, "password", "至少 10 个字符"),
        ({"password": "1234567890123"}, "password", "不能全是数字"),
        ({"role": "king"}, "role", "Must be one of"),
        ({"grid_cells": []}, "grid", "至少分配一个网格"),
        ({"grid_cells": [f"{VILLAGE_B}001"]}, "grid", "不属于"),
        ({"grid_cells": ["371699101200099"]}, "grid", "网格不存在"),
        ({"region": OTHER_VILLAGE}, "region", "不在您的辖区内"),
        ({"username": "gw-village"}, "username", "已存在"),
        ({"phone": "12345"}, "phone", "电话应为"),
    ],
)
def test_bad_user_is_refused_with_field_and_nothing_written(client, world, change, field, message):
    """422 naming the field and what is allowed; no user is created."""
    body = {
        "username": "new-worker",
        "password": "a-strong-password",
        "role": "grid_worker",
        "region": VILLAGE,
        "grid_cells": [f"{VILLAGE}002"],
        **change,
    }
    before = db.session.query(User).count()
    response = client.post("/api/v1/users", json=body, headers=bearer(world["admin@county"]))
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]
    assert message in " ".join(errors[field])
    assert db.session.query(User).count() == before


def test_user_list_is_scoped(client, world):
    """A town admin lists the town's users, not the county's nor the other county's."""
    body = client.get("/api/v1/users", headers=bearer(world["admin@town"])).get_json()
    names = {u["username"] for u in body}
    assert {"gw-village", "mediator-village", "admin-town"} <= names
    assert not names & {"admin-county", "outsider", "outsider-admin"}
    county = client.get("/api/v1/users?role=admin", headers=bearer(world["admin@county"]))
    assert {u["username"] for u in county.get_json()} == {
        "admin-village",
        "admin-town",
        "admin-county",
    }


def test_deactivated_user_cannot_sign_in(client, world):
    """Deactivation: 200, the user stays (never deleted), tokens revoked, login refused."""
    target = world["mediator@village"]
    target_id, admin = target.id, world["admin@village"]
    token_headers = bearer(target)
    admin_headers = bearer(admin)
    response = client.post(f"/api/v1/users/{target_id}/deactivate", headers=admin_headers)
    assert response.status_code == 200 and response.get_json()["active"] is False
    assert user_named("mediator-village").deactivated_at is not None
    assert client.get("/api/v1/me", headers=token_headers).status_code == 401
    assert all(
        t.revoked_at
        for t in db.session.scalars(select(ApiToken).where(ApiToken.user_id == target_id))
    )
    assert login(client, "mediator-village").status_code == 401
    again = client.post(f"/api/v1/users/{target_id}/deactivate", headers=admin_headers)
    assert again.status_code == 409


def test_admin_cannot_deactivate_self(client, world):
    """An admin cannot lock themselves out."""
    admin = world["admin@county"]
    response = client.post(f"/api/v1/users/{admin.id}/deactivate", headers=bearer(admin))
    assert response.status_code == 409
    assert user_named("admin-county").active


def test_admin_resets_password(client, world):
    """After a reset the old password fails and the new one works."""
    target = world["official@village"]
    response = client.post(
        f"/api/v1/users/{target.id}/password",
        json={"new_password": "set-by-the-admin"},
        headers=bearer(world["admin@county"]),
    )
    assert response.status_code == 204
    assert login(client, "official-village").status_code == 401
    assert login(client, "official-village", "set-by-the-admin").status_code == 302


def test_cli_create_reads_password_from_stdin(runner, world):
    """`flask users create` takes the password from stdin, never an argument."""
    result = runner.invoke(
        args=[
            "users",
            "create",
            "cli-worker",
            "--role",
            "grid_worker",
            "--region",
            VILLAGE,
            "--grid",
            f"{VILLAGE}001",
            "--name",
            "命令行网格员",
        ],
        input="a-cli-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "已创建用户 cli-worker" in result.output
    user = user_named("cli-worker")
    assert [c.code for c in user.grid_cells] == [f"{VILLAGE}001"]
    from app.accounts.services import hasher

    assert hasher.verify(user.password_hash, "a-cli-password")


def test_cli_create_refuses_bad_input_and_writes_nothing(runner, world):
    """A weak password or an unknown region exits 1 with the reason."""
    weak = runner.invoke(
        args=["users", "create", "cli-x", "--role", "mediator", "--region", VILLAGE],
        input="short\n",
    )
    assert weak.exit_code == 1 and "至少 10 个字符" in weak.output
    region = runner.invoke(
        args=["users", "create", "cli-x", "--role", "mediator", "--region", "371699999999"],
        input="long-enough-1\n",
    )
    assert region.exit_code == 1 and "不存在" in region.output
    assert user_named("cli-x") is None


def test_cli_deactivate_and_token(runner, client, world):
    """`users token create` prints a working token; `users deactivate` kills it."""
    result = runner.invoke(args=["users", "token", "create", "official-town", "--days", "3"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=headers).get_json()["username"] == "official-town"
    assert runner.invoke(args=["users", "deactivate", "official-town"]).exit_code == 0
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    missing = runner.invoke(args=["users", "deactivate", "no-one"])
    assert missing.exit_code == 1 and "不存在" in missing.output


def test_me_shows_permissions_and_masks_phone(client, world):
    """/me lists the caller's permitted actions."""
    body = client.get("/api/v1/me", headers=bearer(world["grid_worker@village"])).get_json()
    assert body["permissions"] == [
        "account.self",
        "assessment.read",
        "assessment.weights",
        "attachments.read",
        "cameras.read",
        "campaigns.read",
        "campaigns.record",
        "cases.act",
        "cases.read",
        "cases.report",
        "deadlines.read",
        "departments.read",
        "dispatch.read",
        "geo.read",
        "notifications.self",
        "risks.categories",
        "risks.inspect",
        "risks.locate",
        "risks.read",
        "risks.register",
        "selfreports.act",
        "selfreports.read",
        "tasks.read",
        "visits.log",
        "visits.read",
    ]
    assert body["region"]["code"] == VILLAGE


def test_wrong_current_password_is_422(client, world):
    """Changing one's password needs the current one."""
    response = client.post(
        "/api/v1/me/password",
        json={"current_password": "not-it-at-all", "new_password": "whatever-long-1"},
        headers=bearer(world["official@town"]),
    )
    assert response.status_code == 422
    assert "current_password" in response.get_json()["errors"]["json"]
    assert login(client, "official-town", PASSWORD).status_code == 302


def test_a_new_password_revokes_every_token(client, world):
    """Tokens outlived a password change or an admin reset (issue 19 item 7); sessions did not."""
    target_id = world.user_ids["official@village"]
    phone = bearer(world["official@village"])
    spare = bearer(world["official@village"])
    assert client.get("/api/v1/me", headers=phone).status_code == 200
    changed = client.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "brand-new-pass-7"},
        headers=phone,
    )
    assert changed.status_code == 204
    assert client.get("/api/v1/me", headers=phone).status_code == 401
    assert client.get("/api/v1/me", headers=spare).status_code == 401
    fresh = bearer(db.session.get(User, target_id))
    reset = client.post(
        f"/api/v1/users/{target_id}/password",
        json={"new_password": "set-by-the-admin"},
        headers=bearer(world["admin@county"]),
    )
    assert reset.status_code == 204
    assert client.get("/api/v1/me", headers=fresh).status_code == 401
    live = db.session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == target_id, ApiToken.revoked_at.is_(None))
    )
    assert live == 0
