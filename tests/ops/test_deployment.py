"""Deployment settings: PROXY_FIX_HOPS (client address behind proxies), secret-key rotation."""

from __future__ import annotations

import pytest
from flask import Blueprint
from flask import request

from app import create_app


def proxied_app(database_url: str, hops: int):
    """An app with PROXY_FIX_HOPS and a view that shows what it believes about the client."""
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "PROXY_FIX_HOPS": hops}
    )
    bp = Blueprint("client_probe", __name__)

    @bp.route("/_test/client")
    def client_view():
        return {"addr": request.remote_addr, "scheme": request.scheme}

    app.register_blueprint(bp)
    return app


# As two proxies would leave them: each appends the address and scheme it saw.
FORWARDED = {"X-Forwarded-For": "198.51.100.1, 203.0.113.7", "X-Forwarded-Proto": "https, https"}


@pytest.mark.parametrize(
    ("hops", "addr", "scheme"),
    [(0, "127.0.0.1", "http"), (1, "203.0.113.7", "https"), (2, "198.51.100.1", "https")],
)
def test_forwarded_headers_are_trusted_for_exactly_the_configured_hops(
    database_url, hops, addr, scheme
):
    """0 ignores X-Forwarded-*; 1 takes the last address nginx appended; 2 goes one further."""
    client = proxied_app(database_url, hops).test_client()
    body = client.get("/_test/client", headers=FORWARDED).get_json()
    assert (body["addr"], body["scheme"]) == (addr, scheme)


def test_metrics_behind_the_proxy_are_not_public(database_url):
    """Through nginx (PROXY_FIX_HOPS=1) an outside client is not loopback: /metrics is 404."""
    client = proxied_app(database_url, 1).test_client()
    outside = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert outside.status_code == 404
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 200


def test_secret_key_rotation_keeps_sessions_signed_with_the_old_key(database_url, monkeypatch):
    """With the old key in SECRET_KEY_FALLBACKS, its cookies still open; without it they do not."""
    monkeypatch.setenv("SECRET_KEY", "old-key")
    old = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    cookie = old.session_interface.get_signing_serializer(old).dumps({"probe": 1})

    monkeypatch.setenv("SECRET_KEY", "new-key")
    monkeypatch.setenv("SECRET_KEY_FALLBACKS", "older-key, old-key")
    rotated = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    assert rotated.config["SECRET_KEY_FALLBACKS"] == ["older-key", "old-key"]
    monkeypatch.delenv("SECRET_KEY_FALLBACKS")
    cut_off = create_app({"SQLALCHEMY_DATABASE_URI": database_url})

    name = old.config["SESSION_COOKIE_NAME"]
    for app, expected in ((rotated, {"probe": 1}), (cut_off, {})):
        with app.test_request_context(headers={"Cookie": f"{name}={cookie}"}):
            assert dict(app.session_interface.open_session(app, request)) == expected


def test_gunicorn_workers_freeze_the_loaded_app_out_of_the_collector(monkeypatch):
    """After the app is loaded, a worker moves its long-lived objects to the permanent
    generation (gc.freeze), unless WEB_GC_FREEZE=0."""
    import gc

    from app.ops import gunicorn_conf

    assert gunicorn_conf.worker_class == "gthread"
    gc.unfreeze()
    try:
        monkeypatch.setenv("WEB_GC_FREEZE", "0")
        gunicorn_conf.post_worker_init(None)
        assert gc.get_freeze_count() == 0
        monkeypatch.delenv("WEB_GC_FREEZE")
        gunicorn_conf.post_worker_init(None)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
