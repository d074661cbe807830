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
