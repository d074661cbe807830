"""Hostile input: 413 for big bodies, 400 for broken JSON, 415 for other types, 503 on timeout."""

from __future__ import annotations

import io
import json
import time

import pytest
from flask import Blueprint
from flask import request
from sqlalchemy import text

from app import create_app
from app.config import Config
from app.extensions import db
from app.ops.guards import check_api_body

LIMIT = 1024


@pytest.fixture(scope="module")
def guarded(database_url):
    """An app with a small MAX_CONTENT_LENGTH and test-only routes that echo what they got."""
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "MAX_CONTENT_LENGTH": LIMIT}
    )
    api = Blueprint("body_probe", __name__, url_prefix="/api/v1/_test")

    @api.route("/echo", methods=["POST", "PUT", "PATCH"])
    def echo():
        return {"json": request.get_json(silent=True), "form": request.form.to_dict()}

    @api.route("/read-only")
    def read_only():
        return {}

    app.register_blueprint(api)
    return app


@pytest.fixture
def guarded_client(guarded):
    """A client of the guarded app."""
    return guarded.test_client()


def assert_error(response, status: int, message: str) -> dict:
    """The standard error shape with this status and message."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == status and body["message"] == message
    return body


@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_json_form_and_multipart_bodies_pass(guarded_client, method):
    """application/json, urlencoded and multipart bodies reach the view."""
    send = getattr(guarded_client, method)
    assert send("/api/v1/_test/echo", json={"名称": "东村"}).get_json()["json"] == {"名称": "东村"}
    assert send("/api/v1/_test/echo", data={"a": "1"}).get_json()["form"] == {"a": "1"}
    multipart = send("/api/v1/_test/echo", data={"a": "2"}, content_type="multipart/form-data")
    assert multipart.get_json()["form"] == {"a": "2"}
    merge_patch = send(
        "/api/v1/_test/echo", data='{"a": 3}', content_type="application/merge-patch+json"
    )
    assert merge_patch.get_json()["json"] == {"a": 3}


@pytest.mark.parametrize(
    "body", ['{"name": ', "{'single': 'quotes'}", '{"a": 1} trailing', b'{"a": "\xff"}']
)
def test_malformed_json_is_400(guarded_client, body):
    """A JSON body that does not parse: 400 in the standard shape."""
    response = guarded_client.post("/api/v1/_test/echo", data=body, content_type="application/json")
    assert_error(response, 400, "请求内容不是有效的 JSON")


@pytest.mark.parametrize("method", ["post", "put", "patch"])
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/octet-stream", None]
)
def test_other_body_types_are_415(guarded_client, method, content_type):
    """A body that is not JSON or a form: 415 in the standard shape, naming the type."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = getattr(guarded_client, method)(
        "/api/v1/_test/echo", data=b'{"a": 1}', headers=headers
    )
    body = assert_error(response, 415, "不支持的内容类型，请使用 application/json")
    assert body["errors"] == {"content_type": content_type or ""}


def test_empty_bodies_are_not_checked(guarded_client):
    """A POST without a body is the view's business (an action with no parameters, say)."""
    response = guarded_client.post("/api/v1/_test/echo", content_type="text/plain")
    assert response.status_code == 200


def test_routing_errors_come_before_body_checks(guarded_client):
    """An unknown API path stays 404 and a wrong method 405, whatever the body."""
    response = guarded_client.post("/api/v1/_test/nowhere", data="x", content_type="text/plain")
    assert_error(response, 404, "未找到")
    response = guarded_client.post("/api/v1/_test/read-only", data="x", content_type="text/plain")
    assert_error(response, 405, "不支持此请求方法")


def test_pages_outside_the_api_accept_other_types(guarded):
    """The content-type rule is for /api/ only (pages have their CSRF check to pass first)."""
    with guarded.test_request_context(
        "/_test/page", method="POST", data="plain", content_type="text/plain"
    ):
        assert check_api_body() is None


@pytest.mark.parametrize("content_type", ["application/json", "multipart/form-data", "text/plain"])
def test_a_body_over_max_content_length_is_413(guarded_client, content_type):
    """A body larger than MAX_CONTENT_LENGTH: 413 in the standard shape, before other checks."""
    body = '{"pad": "' + "x" * LIMIT + '"}'
    response = guarded_client.post("/api/v1/_test/echo", data=body, content_type=content_type)
    assert_error(response, 413, "请求内容过大")


def post_chunked(client, body: bytes):
    """POST a JSON body as gunicorn hands over a de-chunked one: no Content-Length."""
    return client.post(
        "/api/v1/_test/echo",
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", "Content-Type": "application/json"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_body_over_max_content_length_is_413(guarded_client):
    """Without a Content-Length the limit still holds; a body cut at the limit is not taken."""
    assert post_chunked(guarded_client, b'{"a": 1}').get_json()["json"] == {"a": 1}
    # Valid JSON within the first LIMIT bytes: Werkzeug's cut alone would have let it through.
    body = b'{"a": 1}' + b" " * LIMIT
    assert_error(post_chunked(guarded_client, body), 413, "请求内容过大")


def test_statement_timeout_is_in_the_connection_options(monkeypatch):
    """DB_STATEMENT_TIMEOUT_MS (default 15000) goes to the server with jit=off."""
    monkeypatch.delenv("DB_STATEMENT_TIMEOUT_MS", raising=False)
    options = Config().SQLALCHEMY_ENGINE_OPTIONS["connect_args"]["options"]
    assert options == "-c jit=off -c statement_timeout=15000"
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "250")
    options = Config().SQLALCHEMY_ENGINE_OPTIONS["connect_args"]["options"]
    assert options == "-c jit=off -c statement_timeout=250"


def test_a_query_over_the_statement_timeout_answers_503(
    database_url, monkeypatch, fsa_session, caplog
):
    """A query cancelled by statement_timeout: 503 with a clear message, quickly, not 500."""
    monkeypatch.setenv("DB_STATEMENT_TIMEOUT_MS", "200")
    # Real connections of this app's own engine, which carries the 200 ms timeout.
    monkeypatch.setattr(db, "session", fsa_session)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    probe = Blueprint("slow_probe", __name__, url_prefix="/api/v1/_test")

    @probe.route("/slow")
    def slow():
        db.session.execute(text("SELECT pg_sleep(3)"))
        return {}

    @probe.route("/timeout")
    def timeout():
        return {"timeout": db.session.execute(text("SHOW statement_timeout")).scalar_one()}

    app.register_blueprint(probe)
    try:
        client = app.test_client()
        assert client.get("/api/v1/_test/timeout").get_json() == {"timeout": "200ms"}
        started = time.monotonic()
        response = client.get("/api/v1/_test/slow")
        assert time.monotonic() - started < 2
        assert_error(response, 503, "查询超时，请缩小查询范围或稍后重试")
        assert "Traceback" not in response.get_data(as_text=True)
        assert "statement timeout" in caplog.text
        # The connection went back to the pool in a usable state.
        assert client.get("/api/v1/_test/timeout").status_code == 200
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("[" * 500 + "]" * 500, "嵌套层数超过 64"),
        ('{"a": ' * 65 + "1" + "}" * 65, "嵌套层数超过 64"),
        ('{"title": "甲", "title": "乙"}', "键 “title” 出现了两次"),
    ],
)
def test_json_that_is_not_data_is_400_saying_why(guarded_client, body, why):
    """Deep nesting was a RecursionError (500); a duplicate key silently kept the last value."""
    response = guarded_client.post("/api/v1/_test/echo", data=body, content_type="application/json")
    error = assert_error(response, 400, f"请求内容不是有效的 JSON：{why}")
    assert error["errors"] == {"json": {"_schema": [why]}}
    # Sane nesting still passes.
    ok = guarded_client.post(
        "/api/v1/_test/echo", data='{"a": [[{"b": 1}]]}', content_type="application/json"
    )
    assert ok.status_code == 200 and ok.get_json()["json"] == {"a": [[{"b": 1}]]}


def test_json_thousands_of_levels_deep_is_400_not_a_500(client, world):
    """The parser's RecursionError was a 500 (issue 19 item 5)."""
    from tests.factories import bearer

    response = client.post(
        "/api/v1/cases",
        data="[" * 20000 + "]" * 20000,
        content_type="application/json",
        headers=bearer(world["grid_worker@village"]),
    )
    assert_error(response, 400, "请求内容不是有效的 JSON：嵌套层数超过 64")


def test_a_lone_surrogate_is_422_naming_the_field(client, world):
    """A title with "\\ud800" was a UnicodeEncodeError at flush (500); nothing is written now."""
    from sqlalchemy import func
    from sqlalchemy import select

    from app.cases.models import Case
    from tests.cases.factories import case_body
    from tests.factories import bearer

    body = json.dumps(case_body(title="漏水\ud800纠纷"))
    assert "\\ud800" in body
    response = client.post(
        "/api/v1/cases",
        data=body,
        content_type="application/json",
        headers=bearer(world["grid_worker@village"]),
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert "title" in response.get_json()["errors"]["json"]
    assert "代理项" in response.get_json()["errors"]["json"]["title"][0]
    assert db.session.scalar(select(func.count()).select_from(Case)) == 0
