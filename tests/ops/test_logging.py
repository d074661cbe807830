"""Request ids on every answer; JSON log lines with the request's fields and no query string."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from flask import Blueprint

from app import create_app
from app.ops.logging import JsonFormatter
from app.ops.logging import configure_logging


@pytest.fixture(scope="module")
def json_app(database_url):
    """An app logging JSON, with a view that logs a line of its own."""
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "LOG_FORMAT": "json"}
    )
    bp = Blueprint("log_probe", __name__, url_prefix="/api/v1/_test")

    @bp.route("/log")
    def log_something():
        logging.getLogger("tests.ops").warning("来自视图的日志")
        return {"ok": True}

    app.register_blueprint(bp)
    try:
        yield app
    finally:
        # The handler is process-wide: hand the other tests their plain text back.
        configure_logging("INFO", "text")


def log_lines(captured: str) -> list[dict]:
    """The JSON objects among the captured stderr lines."""
    return [json.loads(line) for line in captured.splitlines() if line.startswith("{")]


def test_json_formatter_writes_one_object_per_line():
    """A record with extras and an exception becomes one line of JSON, Chinese unescaped."""
    try:
        raise ValueError("坏了")
    except ValueError:
        record = logging.LogRecord("x.y", logging.ERROR, __file__, 1, "出错 %s", ("了",), None)
        record.exc_info = sys.exc_info()
    record.status = 500
    line = JsonFormatter().format(record)
    assert "\n" not in line and "出错 了" in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "x.y" and entry["status"] == 500
    assert entry["time"].endswith("+00:00") and "ValueError: 坏了" in entry["exc_info"]


def test_every_answer_carries_a_new_request_id(client):
    """Without an incoming id each answer gets a fresh uuid4 hex in X-Request-ID."""
    first = client.get("/healthz/live").headers["X-Request-ID"]
    second = client.get("/no/such/page").headers["X-Request-ID"]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second


@pytest.mark.parametrize("given", ["abc-123.DEF_x", "a" * 64, "5f0c2b"])
def test_a_sane_incoming_request_id_is_kept(client, given):
    """A token of at most 64 characters of [A-Za-z0-9._-] is echoed back."""
    response = client.get("/healthz/live", headers={"X-Request-ID": given})
    assert response.headers["X-Request-ID"] == given


@pytest.mark.parametrize("given", ["a" * 65, "two words", "x;rm -rf", "<script>", ""])
def test_an_odd_incoming_request_id_is_replaced(client, given):
    """Anything else is replaced by a new id rather than written into the logs."""
    response = client.get("/healthz/live", headers={"X-Request-ID": given})
    assert response.headers["X-Request-ID"] != given
    assert len(response.headers["X-Request-ID"]) == 32


def test_request_log_is_json_with_path_but_no_query_string(json_app, capsys):
    """One JSON line per request: id, method, path, status, duration; the query string never."""
    response = json_app.test_client().get(
        "/api/v1/locate?lon=118.05&lat=37.38&phone=13800138000",
        headers={"X-Request-ID": "req-42"},
    )
    captured = capsys.readouterr().err
    assert "13800138000" not in captured and "lon=" not in captured
    (line,) = [e for e in log_lines(captured) if e["logger"] == "gridgov.request"]
    assert line["request_id"] == "req-42"
    assert (line["method"], line["path"], line["status"]) == (
        "GET",
        "/api/v1/locate",
        response.status_code,
    )
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["message"].startswith("GET /api/v1/locate ")
    assert set(line) >= {"time", "level", "logger", "message", "request_id"}


def test_log_lines_inside_a_request_carry_its_id(json_app, capsys):
    """A view's own log line has the request's id, the one echoed to the client."""
    response = json_app.test_client().get("/api/v1/_test/log")
    request_id = response.headers["X-Request-ID"]
    lines = log_lines(capsys.readouterr().err)
    view_line = next(e for e in lines if e["logger"] == "tests.ops")
    assert view_line["message"] == "来自视图的日志" and view_line["request_id"] == request_id
    request_line = next(e for e in lines if e["logger"] == "gridgov.request")
    assert request_line["request_id"] == request_id


def test_successful_probes_log_at_debug_only(json_app, capsys):
    """Health checks and scrapes every few seconds stay out of the INFO log when they succeed."""
    json_app.test_client().get("/healthz/live")
    assert not [e for e in log_lines(capsys.readouterr().err) if e["logger"] == "gridgov.request"]


def test_unknown_log_format_is_refused():
    """LOG_FORMAT other than text or json stops the app from starting."""
    with pytest.raises(RuntimeError, match="LOG_FORMAT"):
        configure_logging("INFO", "xml")
