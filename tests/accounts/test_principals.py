"""The authentication cache (app/accounts/principals.py): same answers as the plain path, one
statement instead of the credential's rows, and every change that matters seen at once."""

from __future__ import annotations

from datetime import timedelta

import psycopg2
from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy import update

from app import create_app
from app.accounts import principals
from app.accounts import services
from app.accounts.models import ApiToken
from app.accounts.models import User
from app.config import sqlalchemy_url
from app.core import clock
from app.extensions import db
from app.geo.models import GridCell
from app.geo.models import Region
from app.ops.services import libpq_env
from tests.accounts.helpers import login
from tests.cases.factories import POINT_CELL2
from tests.cases.factories import report
from tests.conftest import TEST_PERSONAL_DATA_KEY
from tests.factories import bearer
from tests.factories import build_world


def statements(connection) -> list[str]:
    """The statements run on `connection` from now on."""
    seen: list[str] = []
    event.listen(connection, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def answer(response) -> tuple[int, dict]:
    """Status and JSON, without the per-request CSRF token of a cookie session."""
    body = response.get_json()
    if isinstance(body, dict):
        body.pop("csrf_token", None)
    return response.status_code, body


def test_a_cached_credential_answers_what_the_plain_path_does(app, client, world, db_connection):
    """/me and a scoped case list, by token and by cookie: cold and cached give the same answer;
    the cached request reads the accounts version instead of the token, user, region and cells."""
    report(client, world["grid_worker@village"])
    report(client, world["mediator@village"], **POINT_CELL2)  # not the grid worker's cell
    cache = app.extensions[principals.EXTENSION]
    worker = bearer(world["grid_worker@village"])
    for path in ("/api/v1/me", "/api/v1/cases?limit=50"):
        cache.clear()
        cold = answer(client.get(path, headers=worker))
        cached = answer(client.get(path, headers=worker))
        assert cold[0] == 200 and cached == cold, path
    assert len(cold[1]["items"]) == 1  # own cell only: the cached scope kept the cells

    cache.clear()
    seen = statements(db_connection)
    client.get("/api/v1/me", headers=worker)
    cold_run = [s for s in seen if "SAVEPOINT" not in s]
    seen.clear()
    client.get("/api/v1/me", headers=worker)
    # The same statements less the token's (its user, region and cells came with it).
    assert [s for s in seen if "SAVEPOINT" not in s] == [
        s for s in cold_run if "api_tokens" not in s
    ]
    assert not any("FROM users" in s or "regions" in s for s in seen)

    login(client, "official-village")
    cache.clear()
    cold = answer(client.get("/api/v1/me"))
    seen.clear()
    cached = answer(client.get("/api/v1/me"))
    assert cold[0] == 200 and cached == cold
    assert not any("login_sessions" in s for s in seen)


def test_changes_take_effect_at_once_through_the_cache(app, client, world):
    """Revocation, deactivation, a new region or role, new cells, a session ended elsewhere, and
    expiry by the clock: each seen by the very next request of a cached credential."""
    user_ids = {
        key: world[key].id for key in ("mediator@town", "official@town", "grid_worker@village")
    }
    mediator, official, worker = (bearer(world[key]) for key in user_ids)
    for headers in (mediator, official, worker):
        assert client.get("/api/v1/me", headers=headers).status_code == 200
        assert client.get("/api/v1/me", headers=headers).status_code == 200  # cached

    token_id = client.get("/api/v1/auth/tokens", headers=mediator).get_json()[0]["id"]
    assert client.delete(f"/api/v1/auth/tokens/{token_id}", headers=mediator).status_code == 204
    assert client.get("/api/v1/me", headers=mediator).status_code == 401

    # A new jurisdiction and role (an administrator's SQL, the divisions import): next request.
    village = db.session.scalar(select(Region).where(Region.code == "371699101200"))
    db.session.execute(
        update(User)
        .where(User.id == user_ids["official@town"])
        .values(region_id=village.id, role="mediator")
    )
    db.session.commit()
    me = client.get("/api/v1/me", headers=official).get_json()
    assert (me["role"], me["region"]["code"]) == ("mediator", "371699101200")

    # New grid cells: the scope follows (cell 2 only: the case in cell 1 leaves the list).
    number = report(client, world["mediator@village"]).get_json()["number"]
    assert [
        c["number"] for c in client.get("/api/v1/cases", headers=worker).get_json()["items"]
    ] == [number]
    user = db.session.get(User, user_ids["grid_worker@village"])
    user.grid_cells = [
        db.session.scalar(select(GridCell).where(GridCell.code == "371699101200002"))
    ]
    db.session.commit()
    assert client.get("/api/v1/cases", headers=worker).get_json()["items"] == []

    # Expiry by the clock alone, no write: refused after the instant even though cached.
    expires = db.session.scalar(
        select(ApiToken.expires_at).where(ApiToken.user_id == user_ids["grid_worker@village"])
    )
    real_now = clock.now
    clock.now = lambda: expires + timedelta(seconds=1)
    try:
        assert client.get("/api/v1/me", headers=worker).status_code == 401
    finally:
        clock.now = real_now

    # Deactivation ends a cached login session too (the page redirects to sign in).
    login(client, "mediator-village")
    assert client.get("/api/v1/me").status_code == 200
    assert client.get("/api/v1/me").status_code == 200  # cached
    services.deactivate(db.session.get(User, world.user_ids["mediator@village"]))
    db.session.commit()
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/").status_code == 302


def test_a_dead_pooled_connection_is_discarded_without_pre_ping(
    scratch_database, fsa_session, monkeypatch
):
    """The database drops the app's idle connections (a restart): a request that cannot retry
    answers 503 with Retry-After, the next one 200; a bearer request retries its first statement
    on a fresh connection and answers 200 at once."""
    monkeypatch.setattr(db, "session", fsa_session)
    scratch = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": scratch_database,
            "PERSONAL_DATA_KEY": TEST_PERSONAL_DATA_KEY,
        }
    )
    assert "pool_pre_ping" not in scratch.config["SQLALCHEMY_ENGINE_OPTIONS"]
    with scratch.app_context():
        headers = bearer(build_world()["official@county"])
        db.session.remove()
    dsn = libpq_env(sqlalchemy_url(scratch_database))
    client = scratch.test_client()

    def drop_connections():
        with psycopg2.connect(
            host=dsn["PGHOST"], dbname=dsn["PGDATABASE"], user=dsn["PGUSER"]
        ) as other:
            cursor = other.cursor()
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = 'gridgov'"
            )
            assert cursor.fetchone()[0] >= 1
        other.close()

    # A resident's rating: no account, no retry, and no fast path that would take the dead
    # connection first (the progress lookup's does, and Flask then answers on a fresh one).
    lookup = {"number": "X-1", "code": "abcdef", "rating": "satisfied"}
    rating = "/api/v1/public/rating"
    try:
        assert client.post(rating, json=lookup).status_code == 404
        drop_connections()
        lost = client.post(rating, json=lookup)
        assert lost.status_code == 503
        assert set(lost.get_json()) == {"code", "status", "message", "errors"}
        assert lost.headers["Retry-After"].isdigit()  # (the lookup throttle sets its own)
        assert client.post(rating, json=lookup).status_code == 404

        assert client.get("/api/v1/me", headers=headers).status_code == 200
        drop_connections()
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    finally:
        with scratch.app_context():
            db.engines[None].dispose()
