"""GET /metrics: counts and latency by route rule, scrape-time gauges, loopback or token only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Blueprint

from app import create_app
from app.ops import metrics

ROOT = Path(__file__).resolve().parents[2]
ITEM_RULE = "/api/v1/_test/items/<int:item_id>"


@pytest.fixture(scope="module")
def metrics_app(database_url):
    """An app with a route that has a URL parameter."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    bp = Blueprint("items_probe", __name__, url_prefix="/api/v1/_test")

    @bp.route("/items/<int:item_id>")
    def item(item_id: int):
        return {"id": item_id}

    app.register_blueprint(bp)
    return app


def scrape(client, **kwargs) -> str:
    """The /metrics text, asserting it was served."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in Prometheus text format (labels in any order)."""
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if not match or match[1] != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match[2] or ""))
        if found == labels:
            return float(match[3])
    return None


def test_requests_are_counted_by_route_rule_not_path(metrics_app):
    """Two item URLs add 2 to the rule's counter; the raw paths never become labels."""
    client = metrics_app.test_client()
    labels = {"method": "GET", "route": ITEM_RULE, "status": "200"}
    before = sample(scrape(client), "gridgov_http_requests_total", **labels) or 0
    assert client.get("/api/v1/_test/items/1").status_code == 200
    assert client.get("/api/v1/_test/items/2").status_code == 200
    client.get("/no/such/path")
    text = scrape(client)
    assert sample(text, "gridgov_http_requests_total", **labels) == before + 2
    assert "/api/v1/_test/items/1" not in text and "/no/such/path" not in text
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert sample(text, "gridgov_http_requests_total", **unmatched) >= 1
    count = sample(text, "gridgov_http_request_duration_seconds_count", route=ITEM_RULE)
    assert count is not None and count >= 2
    assert sample(text, "gridgov_http_request_duration_seconds_bucket", route=ITEM_RULE, le="+Inf")


def test_odd_methods_do_not_make_new_labels(metrics_app):
    """A made-up HTTP method is counted as OTHER."""
    client = metrics_app.test_client()
    client.open("/api/v1/_test/items/1", method="BREW")
    assert 'method="BREW"' not in scrape(client)
    assert 'method="OTHER"' in scrape(client)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_may_scrape_without_a_token(client, address):
    """Without METRICS_TOKEN, loopback clients get the metrics."""
    scrape(client, environ_overrides={"REMOTE_ADDR": address})


@pytest.mark.parametrize("address", ["203.0.113.5", "10.0.0.8", "::2", "", "unix"])
def test_others_get_404_without_a_token(client, address):
    """Without METRICS_TOKEN, anyone else gets 404 in the standard error shape."""
    response = client.get("/metrics", environ_overrides={"REMOTE_ADDR": address})
    assert response.status_code == 404
    assert response.get_json() == {
        "code": 404,
        "status": "Not Found",
        "message": "未找到",
        "errors": {},
    }


def test_with_a_token_only_the_bearer_of_it_may_scrape(app, client, monkeypatch):
    """With METRICS_TOKEN set, loopback is not enough: the right bearer token is."""
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-token")
    assert client.get("/metrics").status_code == 404
    for header in ("Bearer wrong", "Basic s3cret-token", "Bearer", "s3cret-token"):
        assert client.get("/metrics", headers={"Authorization": header}).status_code == 404
    scrape(
        client,
        headers={"Authorization": "Bearer s3cret-token"},
        environ_overrides={"REMOTE_ADDR": "203.0.113.5"},
    )


def test_gauges_are_computed_at_scrape_time(client, monkeypatch, caplog):
    """register_gauge's function runs at each scrape; a failing one is skipped and logged."""
    monkeypatch.setattr(metrics, "_gauges", {})
    queue = [3, 7]
    metrics.register_gauge("gridgov_test_queue", "Items waiting", lambda: queue[0])
    metrics.register_gauge(
        "gridgov_test_by_town",
        "Items by town",
        lambda: [(("黄河镇",), 2), (("清河镇",), 5)],
        labels=["town"],
    )
    metrics.register_gauge("gridgov_test_broken", "Always fails", lambda: 1 / 0)

    assert sample(scrape(client), "gridgov_test_queue") == 3
    queue.pop(0)
    text = scrape(client)
    assert sample(text, "gridgov_test_queue") == 7
    assert sample(text, "gridgov_test_by_town", town="清河镇") == 5
    assert "gridgov_test_broken" not in text
    assert "gauge gridgov_test_broken failed" in caplog.text


def test_multiprocess_mode_adds_up_every_worker(tmp_path, database_url):
    """With PROMETHEUS_MULTIPROC_DIR, a scrape in one process sums the others' requests."""
    script = (
        "import sys\n"
        "from app import create_app\n"
        "client = create_app({'SQLALCHEMY_DATABASE_URI': sys.argv[1]}).test_client()\n"
        "for _ in range(int(sys.argv[2])):\n"
        "    client.get('/healthz/live').close()\n"
        "if sys.argv[2] == '0':\n"
        "    print(client.get('/metrics').get_data(as_text=True))\n"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    outputs = [
        subprocess.run(
            [sys.executable, "-c", script, database_url, n],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for n in ("3", "2", "0")
    ]
    assert len(list(tmp_path.glob("*.db"))) >= 3  # one file per process and metric type
    labels = {"method": "GET", "route": "/healthz/live", "status": "200"}
    assert sample(outputs[2], "gridgov_http_requests_total", **labels) == 5
