"""/healthz answers 200 with versions, 503 when the database is down."""

from app import create_app
from app.extensions import db


def test_health_up(client):
    """With the database up: 200 and the PostgreSQL and PostGIS versions."""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["postgresql"].startswith(("13", "14", "15", "16", "17"))
    assert body["postgis"].startswith("3.")


def test_health_down(monkeypatch, fsa_session, tmp_path):
    """With the database unreachable: 503 in the standard error shape, quickly."""
    monkeypatch.setattr(db, "session", fsa_session)
    down = create_app(
        {"SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg2://gridgov@/gridgov?host={tmp_path}"}
    )
    response = down.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["code"] == 503 and body["message"] == "数据库不可用"
    assert "Traceback" not in response.get_data(as_text=True)


def down_app(tmp_path):
    """An app whose database socket does not exist."""
    return create_app(
        {"SQLALCHEMY_DATABASE_URI": f"postgresql+psycopg2://gridgov@/gridgov?host={tmp_path}"}
    )


def test_live_answers_without_the_database(monkeypatch, fsa_session, tmp_path):
    """/healthz/live is 200 even when the database is unreachable (no restart for that)."""
    monkeypatch.setattr(db, "session", fsa_session)
    response = down_app(tmp_path).test_client().get("/healthz/live")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_up(client):
    """/healthz/ready answers like /healthz when the database is up."""
    response = client.get("/healthz/ready")
    assert response.status_code == 200
    assert response.get_json().keys() == {"status", "postgresql", "postgis"}


def test_ready_down(monkeypatch, fsa_session, tmp_path):
    """/healthz/ready is 503 in the standard error shape when the database is down."""
    monkeypatch.setattr(db, "session", fsa_session)
    response = down_app(tmp_path).test_client().get("/healthz/ready")
    assert response.status_code == 503
    assert response.get_json()["message"] == "数据库不可用"


def test_health_endpoints_are_in_the_openapi_document(client):
    """Liveness and readiness are documented, readiness with its 503."""
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/healthz/live"]["get"]["responses"]) >= {"200"}
    for path in ("/healthz", "/healthz/ready"):
        assert set(paths[path]["get"]["responses"]) >= {"200", "503"}
