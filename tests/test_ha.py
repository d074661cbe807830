"""High availability, app side (issue 20): multi-host URLs, the replica read path, lost connections.

The failover itself (pg_auto_failover, a primary killed under load) is `make soak-ha`
(bench/soak_ha.py); here everything runs on the one embedded cluster. The replica engine is
pointed at the same scratch database: it opens every transaction read-only, as a hot standby
does, so what it may and may not do is what a real standby would allow.
"""

from __future__ import annotations

import psycopg2
import pytest
from psycopg2.errors import ReadOnlySqlTransaction
from sqlalchemy import event
from sqlalchemy import text
from sqlalchemy.exc import InternalError

from app import create_app
from app.config import sqlalchemy_url
from app.core import replica
from app.extensions import db
from app.ops.services import libpq_env
from tests.cases.factories import case_body
from tests.conftest import TEST_PERSONAL_DATA_KEY
from tests.factories import bearer
from tests.factories import build_world

MULTI = (
    "postgresql://gridgov@/gridgov?host=10.0.0.1:5432,10.0.0.2:5433&target_session_attrs=read-write"
)


def test_multi_host_url_reaches_libpq_as_host_and_port_lists():
    """`host=a:p,b:p` becomes libpq's `host=a,b&port=p,q`, for the engine and for pg_dump alike."""
    url = sqlalchemy_url(MULTI)
    assert url == (
        "postgresql+psycopg2://gridgov@/gridgov?host=10.0.0.1,10.0.0.2&port=5432,5433"
        "&target_session_attrs=read-write"
    )
    env = libpq_env(url)
    assert (env["PGHOST"], env["PGPORT"], env["PGTARGETSESSIONATTRS"]) == (
        "10.0.0.1,10.0.0.2",
        "5432,5433",
        "read-write",
    )
    # A Unix socket, or hosts without ports, are left as they are.
    assert (
        sqlalchemy_url("postgresql://g@/d?host=/run/pg")
        == "postgresql+psycopg2://g@/d?host=/run/pg"
    )


def make_app(url: str, **config):
    """An app on the scratch database, with real commits."""
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "PERSONAL_DATA_KEY": TEST_PERSONAL_DATA_KEY,
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 5},
            **config,
        }
    )


@pytest.fixture
def ha_world(scratch_database, fsa_session, monkeypatch):
    """The test world on a scratch database, and an app whose replica engine reads it."""
    monkeypatch.setattr(db, "session", fsa_session)
    ha_app = make_app(scratch_database, REPLICA_DATABASE_URI=scratch_database)
    with ha_app.app_context():
        world = build_world()
        users = {
            name: bearer(world[name])
            for name in ("grid_worker@village", "official@county", "mediator@village")
        }
        db.session.remove()
    try:
        yield ha_app, users
    finally:
        with ha_app.app_context():
            replica.engine().dispose()
            db.engines[None].dispose()


def count_statements(engine) -> list[str]:
    """The statements an engine runs from now on."""
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    return seen


def cases_titled(ha_app, title: str) -> int:
    """How many committed cases carry this title."""
    with ha_app.app_context():
        found = db.session.execute(
            text("SELECT count(*) FROM cases WHERE title = :t"), {"t": title}
        ).scalar_one()
        db.session.remove()
    return found


def test_heavy_reads_use_the_read_only_replica_and_writes_never_do(ha_world):
    """Map layers, measures and exports read the replica; reports, sign-in never; writes refused."""
    ha_app, users = ha_world
    client = ha_app.test_client()
    with ha_app.app_context():
        replica_engine = replica.engine()
    on_replica = count_statements(replica_engine)

    # Writes and permission checks: the primary only (the report below is committed there).
    created = client.post(
        "/api/v1/cases", json=case_body(title="备库测试"), headers=users["grid_worker@village"]
    )
    assert created.status_code == 201, created.get_json()
    number = created.get_json()["number"]
    assert client.get("/api/v1/me", headers=users["grid_worker@village"]).status_code == 200
    assert on_replica == []

    # The heavy reads go to the replica, and see the committed report.
    layer = client.get("/api/v1/cases.geojson", headers=users["official@county"])
    assert layer.status_code == 200
    assert number in [f["properties"]["number"] for f in layer.get_json()["features"]]
    assert any("FeatureCollection" in sql for sql in on_replica)
    before = len(on_replica)
    metrics = client.get("/api/v1/metrics", headers=users["official@county"])
    assert metrics.status_code == 200, metrics.get_json()
    assert len(on_replica) > before
    before = len(on_replica)
    export = client.get("/api/v1/cases/export.csv", headers=users["official@county"])
    assert export.status_code == 200
    assert number in export.get_data(as_text=True)
    assert len(on_replica) > before
    # The export's audit entry was written on the primary, in the request's transaction.
    with ha_app.app_context():
        audited = db.session.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'cases.export'")
        ).scalar_one()
        db.session.remove()
    assert audited == 1

    # A write sent through the replica engine is refused by the server.
    with ha_app.app_context():
        with pytest.raises(InternalError) as refused, replica.session().begin():
            replica.session().execute(
                text("UPDATE cases SET title = 'x' WHERE number = :n"), {"n": number}
            )
        assert isinstance(refused.value.orig, ReadOnlySqlTransaction)
    assert cases_titled(ha_app, "备库测试") == 1


def test_lost_connection_answers_503_and_the_retry_completes_once(ha_world, scratch_database):
    """The backend dies at COMMIT: 503 + Retry-After, nothing written; the retry makes one case."""
    ha_app, users = ha_world
    client = ha_app.test_client()
    headers = {**users["grid_worker@village"], "Idempotency-Key": "lost-commit-1"}
    body = case_body(title="断线重试")
    with ha_app.app_context():
        primary = db.engines[None]
    dsn = libpq_env(sqlalchemy_url(scratch_database))
    killed = []

    def kill_own_backend(conn):
        # As a server crash would: the backend goes away just before the commit reaches it.
        if killed:
            return
        pid = conn.connection.dbapi_connection.info.backend_pid
        with psycopg2.connect(
            host=dsn["PGHOST"], dbname=dsn["PGDATABASE"], user=dsn["PGUSER"]
        ) as other:
            other.cursor().execute("SELECT pg_terminate_backend(%s)", (pid,))
        other.close()
        killed.append(pid)

    event.listen(primary, "commit", kill_own_backend)
    try:
        lost = client.post("/api/v1/cases", json=body, headers=headers)
    finally:
        event.remove(primary, "commit", kill_own_backend)
    assert killed
    assert lost.status_code == 503
    assert set(lost.get_json()) == {"code", "status", "message", "errors"}
    assert lost.get_json()["code"] == 503 and "Traceback" not in lost.get_data(as_text=True)
    assert lost.headers["Retry-After"] == "5"
    assert cases_titled(ha_app, "断线重试") == 0

    retried = client.post("/api/v1/cases", json=body, headers=headers)
    assert retried.status_code == 201, retried.get_json()
    again = client.post("/api/v1/cases", json=body, headers=headers)
    assert again.status_code in (200, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["number"] == retried.get_json()["number"]
    assert cases_titled(ha_app, "断线重试") == 1

    # A write that reaches a server that is read-only now (a standby after a failover): 503 too.
    standby = make_app(
        scratch_database,
        SQLALCHEMY_ENGINE_OPTIONS={
            "connect_args": {"options": "-c default_transaction_read_only=on"}
        },
    )
    refused = standby.test_client().post(
        "/api/v1/cases",
        json=case_body(title="只读"),
        headers={**users["grid_worker@village"], "Idempotency-Key": "read-only-1"},
    )
    assert refused.status_code == 503, refused.get_json()
    assert refused.get_json()["code"] == 503 and refused.headers["Retry-After"]
    with standby.app_context():
        db.engines[None].dispose()
    assert cases_titled(ha_app, "只读") == 0
