"""Sign-in: sessions end for real, expire, tokens, identical failures, rehashing, CSRF, headers."""

import re
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy import update

from app import pii
from app.accounts import services
from app.accounts.models import LoginSession
from app.accounts.models import User
from app.audit.models import AuditEntry
from app.core import clock
from app.extensions import db
from tests.accounts.helpers import COOKIE
from tests.accounts.helpers import copy_cookie
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import csrf_header
from tests.accounts.helpers import login
from tests.factories import PASSWORD
from tests.factories import bearer


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


def audit_actions(action: str) -> list[tuple[str, str | None]]:
    """(outcome, actor) of audit entries with this action, oldest first."""
    rows = db.session.execute(
        select(AuditEntry.outcome, AuditEntry.actor)
        .where(AuditEntry.action == action)
        .order_by(AuditEntry.id)
    )
    return [tuple(r) for r in rows]


def test_login_sets_hardened_session_cookie(client, world):
    """A good login redirects home with an HttpOnly, SameSite=Lax cookie; it is audited."""
    response = login(client, "mediator-town")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert f"{COOKIE}=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http in tests
    assert client.get("/api/v1/me").get_json()["username"] == "mediator-town"
    assert audit_actions("auth.login") == [("success", "mediator-town")]


def test_cookie_is_secure_over_https(client, world):
    """Over HTTPS the session cookie is Secure and HSTS is sent."""
    page = client.get("/login", base_url="https://localhost")
    assert "max-age=" in page.headers["Strict-Transport-Security"]
    token = csrf_from(page.get_data(as_text=True))
    response = client.post(
        "/login",
        data={"username": "official-county", "password": PASSWORD, "csrf_token": token},
        base_url="https://localhost",
        # Over HTTPS Flask-WTF also checks that the Referer is this site (browsers send it).
        headers={"Referer": "https://localhost/login"},
    )
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"]


def test_unknown_user_and_wrong_password_answer_identically(client, world):
    """Unknown user, wrong password and deactivated user: same status and same body."""
    services.deactivate(world["official@town"])
    db.session.commit()
    answers = []
    for username, password in [
        ("nobody-here", PASSWORD),
        ("mediator-town", "wrong-password!"),
        ("official-town", PASSWORD),
    ]:
        response = login(client, username, password)
        body = response.get_data(as_text=True)
        # CSRF tokens are signed with a timestamp: they differ across seconds, by design.
        body = re.sub(r'(csrf[-_]token"? (?:content|value)=")[^"]+', r"\1…", body)
        answers.append((response.status_code, body.replace(username, "<u>")))
    assert answers[0][0] == 401
    assert answers[0] == answers[1] == answers[2]
    api = [
        client.post("/api/v1/auth/tokens", json={"username": u, "password": p})
        for u, p in [("nobody-here", PASSWORD), ("mediator-town", "wrong-password!")]
    ]
    assert [r.status_code for r in api] == [401, 401]
    assert api[0].get_json() == api[1].get_json()
    assert [o for o, _ in audit_actions("auth.login")] == ["failure"] * 5


@pytest.mark.parametrize("how", ["logout", "password_change", "deactivation", "admin_reset"])
def test_copied_cookie_dies_with_the_session(app, client, world, how):
    """A cookie copied before logout, password change or deactivation no longer works after."""
    login(client, "mediator-village")
    thief = app.test_client()
    copy_cookie(client, thief)
    assert thief.get("/api/v1/me").status_code == 200
    if how == "logout":
        token = csrf_from(client.get("/account/password").get_data(as_text=True))
        assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    elif how == "password_change":
        response = client.post(
            "/api/v1/me/password",
            json={"current_password": PASSWORD, "new_password": "a-new-password-2"},
            headers=csrf_header(client),
        )
        assert response.status_code == 204
        # The browser that changed it stays signed in (with a new session)...
        assert client.get("/api/v1/me").status_code == 200
    elif how == "deactivation":
        services.deactivate(world["mediator@village"])
        db.session.commit()
    else:
        services.reset_password(world["mediator@village"], "admin-set-password-3")
        db.session.commit()
    # ...but the copied cookie is dead.
    response = thief.get("/api/v1/me")
    assert response.status_code == 401
    assert response.get_json()["code"] == 401
    ended = db.session.scalars(
        select(LoginSession.end_reason).where(LoginSession.user_id == world["mediator@village"].id)
    ).all()
    assert {"logout", "password_changed", "deactivated", "password_reset"} & set(ended)


@pytest.mark.parametrize(
    ("column", "age", "reason"),
    [
        ("last_seen_at", timedelta(minutes=31), "idle"),
        ("created_at", timedelta(hours=12, minutes=1), "expired"),
    ],
)
def test_sessions_expire_when_idle_or_old(client, world, column, age, reason):
    """Idle for more than 30 minutes, or older than 12 hours: the session ends."""
    login(client, "official-village")
    assert client.get("/api/v1/me").status_code == 200
    db.session.execute(update(LoginSession).values({column: clock.now() - age}))
    db.session.commit()
    assert client.get("/api/v1/me").status_code == 401
    assert db.session.scalar(select(LoginSession.end_reason)) == reason


def test_session_lifetimes_are_configurable(app, client, world, monkeypatch):
    """SESSION_IDLE_MINUTES shortens the idle timeout."""
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 5)
    login(client, "official-village")
    db.session.execute(update(LoginSession).values(last_seen_at=clock.now() - timedelta(minutes=6)))
    db.session.commit()
    assert client.get("/api/v1/me").status_code == 401


def test_password_rehashed_when_parameters_change(client, world, monkeypatch):
    """A hash made with older parameters is replaced on the next successful login."""
    user = world["admin@county"]
    user_id, old_hash = user.id, user.password_hash  # requests close the test's session
    monkeypatch.setattr(
        services, "hasher", PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1)
    )
    assert login(client, "admin-county").status_code == 302
    db.session.expire_all()
    new_hash = db.session.scalar(select(User.password_hash).where(User.id == user_id))
    assert new_hash != old_hash and "t=2" in new_hash
    assert services.hasher.verify(new_hash, PASSWORD)


def test_bearer_tokens_expire_and_revoke(client, world):
    """A token works until revoked or expired, and never for a deactivated user."""
    user = world["mediator@town"]
    user_id = user.id
    headers = bearer(user)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    token_id = client.get("/api/v1/auth/tokens", headers=headers).get_json()[0]["id"]
    assert client.delete(f"/api/v1/auth/tokens/{token_id}", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401

    # The requests' commits left the fixture's objects detached: read them again.
    user = db.session.get(User, user_id)
    expired = bearer(user)
    db.session.execute(
        update(services.ApiToken)
        .where(services.ApiToken.revoked_at.is_(None))
        .values(expires_at=clock.now() - timedelta(seconds=1))
    )
    db.session.commit()
    assert client.get("/api/v1/me", headers=expired).status_code == 401

    user = db.session.get(User, user_id)
    live = bearer(user)
    services.deactivate(user)
    db.session.commit()
    assert client.get("/api/v1/me", headers=live).status_code == 401
    assert [o for o, _ in audit_actions("auth.token")] == ["failure"] * 3


def test_token_login_with_password(client, world):
    """POST /auth/tokens with the right password returns a token, shown once, that works."""
    response = client.post(
        "/api/v1/auth/tokens",
        json={"username": "gw-village", "password": PASSWORD, "name": "我的手机", "days": 7},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["token"].startswith("ggv_") and body["user"]["username"] == "gw-village"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.get_json()["csrf_token"] is None
    stored = db.session.scalar(select(services.ApiToken.token_hash))
    assert stored == services.hash_token(body["token"]) and body["token"] not in stored


def test_csrf_required_for_cookie_requests_not_for_bearer(client, world):
    """Cookie-authenticated unsafe requests need the CSRF token; bearer requests do not."""
    login(client, "admin-county")
    body = {"new_password": "a-new-long-password"}
    target = world["official@county"].id
    response = client.post(f"/api/v1/users/{target}/password", json=body)
    assert response.status_code == 400
    assert "CSRF" in response.get_json()["message"]
    response = client.post(
        f"/api/v1/users/{target}/password", json=body, headers={"X-CSRFToken": "forged"}
    )
    assert response.status_code == 400
    ok = client.post(f"/api/v1/users/{target}/password", json=body, headers=csrf_header(client))
    assert ok.status_code == 204
    fresh = client.application.test_client()
    with_token = fresh.post(
        f"/api/v1/users/{target}/password", json=body, headers=bearer(world["admin@county"])
    )
    assert with_token.status_code == 204


def test_nobody_mints_a_token_for_someone_else(client, world):
    """Issue 19 item 3: an admin cannot make a token that acts in a mediator's name (there is no
    such route, on the API or the pages), and a token minted so before still fails to sign in."""
    admin = bearer(world["admin@county"])
    mediator_id = world["mediator@village"].id
    minted = client.post(f"/api/v1/users/{mediator_id}/tokens", json={"name": "x"}, headers=admin)
    assert minted.status_code in (404, 405)
    minted_for = select(services.ApiToken).where(
        services.ApiToken.user_id == mediator_id, services.ApiToken.created_by_id != mediator_id
    )
    assert db.session.scalars(minted_for).all() == []
    # A token an admin minted before this rule (created_by is not its owner) no longer works.
    token, secret = services.create_token(db.session.get(User, mediator_id), "legacy")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    db.session.execute(
        update(services.ApiToken)
        .where(services.ApiToken.id == token.id)
        .values(created_by_id=world["admin@county"].id)
    )
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_a_user_makes_and_revokes_their_own_token_on_the_page(client, world):
    """我的令牌: the secret is shown once, the token is the user's own and works; revoke ends it."""
    login(client, "mediator-village")
    page = client.get("/account/tokens").get_data(as_text=True)
    made = client.post("/account/tokens", data={"csrf_token": csrf_from(page), "name": "手机"})
    assert made.status_code == 200
    secret = re.search(r'<code id="new-token">([^<]+)</code>', made.get_data(as_text=True)).group(1)
    fresh = client.application.test_client()
    me = fresh.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.get_json()["username"] == "mediator-village"
    assert secret not in client.get("/account/tokens").get_data(as_text=True)
    bad = client.post("/account/tokens", data={"csrf_token": csrf_from(page), "days": "0"})
    assert bad.status_code == 422 and "1–366" in bad.get_data(as_text=True)
    token_id = db.session.scalar(
        select(services.ApiToken.id).where(services.ApiToken.prefix == secret[:12])
    )
    done = client.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_from(page)})
    assert done.status_code == 302
    assert fresh.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_login_form_needs_csrf(client, world):
    """The login form itself is CSRF-protected (login CSRF)."""
    response = client.post("/login", data={"username": "admin-county", "password": PASSWORD})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/login", "/api/v1/me", "/healthz", "/api/v1/docs"])
def test_security_headers_everywhere(client, world, path):
    """CSP without external hosts but the tile server, nosniff, no framing, referrer policy."""
    response = client.get(path, headers=bearer(world["official@county"]))
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
    hosts = {part.rstrip(";") for part in csp.split() if "://" in part}
    assert hosts <= {"https://tile.openstreetmap.org"}
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers


def test_swagger_page_runs_under_the_csp(client):
    """The API docs page's inline script carries this response's CSP nonce."""
    response = client.get("/api/v1/docs")
    nonce = response.headers["Content-Security-Policy"].split("'nonce-")[1].split("'")[0]
    assert f'nonce="{nonce}"' in response.get_data(as_text=True)


def test_signed_out_page_redirects_to_login(client, world):
    """A page needing sign-in sends browsers to the login page; the API answers 401."""
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]
    assert client.get("/api/v1/me").status_code == 401


def test_open_redirect_refused(client, world):
    """?next= only follows same-site paths."""
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login?next=//evil.example/x",
        data={"username": "admin-county", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/regions/999999999999"])
def test_the_idle_clock_counts_refused_requests_too(client, world, path):
    """A request answered 4xx still counts as activity: the session's last-seen time moves."""
    login(client, "official-village")
    two_minutes_ago = clock.now() - timedelta(minutes=2)
    db.session.execute(update(LoginSession).values(last_seen_at=two_minutes_ago))
    db.session.commit()
    expected = 404 if "regions" in path else 200
    assert client.get(path).status_code == expected
    db.session.expire_all()
    assert db.session.scalar(select(LoginSession.last_seen_at)) > two_minutes_ago + timedelta(
        minutes=1
    )
    assert db.session.scalar(select(LoginSession.ended_at)) is None


def test_token_use_is_recorded_when_the_answer_is_refused(client, world):
    """A bearer request answered 404 still records when the token was last used."""
    headers = bearer(world["official@village"])
    assert client.get("/api/v1/regions/999999999999", headers=headers).status_code == 404
    db.session.expire_all()
    assert db.session.scalar(select(services.ApiToken.last_used_at)) is not None


def test_a_failed_sign_in_keeps_no_typed_id_number_in_clear(client, world):
    """People type their ID number as the username; the audit kept it in clear (issue 19 #9)."""
    typed = "110101199003074477"
    assert login(client, typed, "whatever-it-is").status_code == 401
    assert login(client, "mediator-town", "wrong-password!").status_code == 401
    entries = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "auth.login").order_by(AuditEntry.id)
    ).all()
    unknown, known = (e.detail for e in entries[-2:])
    assert typed not in str(unknown)
    assert unknown["username_masked"] == "1********7"
    assert unknown["username_hash"] == pii.keyed_hash(typed)
    # An account's own name is not personal data: kept as it is, so the log stays useful.
    assert known == {"username": "mediator-town", "via": "web"}
