"""The OpenAPI document's own promises, checked without calling the operations (fast)."""

from __future__ import annotations

import re

import pytest

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def spec(app):
    """The served document."""
    return app.test_client().get("/api/v1/openapi.json").get_json()


def operations(spec):
    """(path, method, operation) for every operation."""
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_every_api_route_is_documented(app, spec):
    """A route under /api/ that the document does not describe is a route nobody fuzzes."""
    documented = {
        (re.sub(r"\{(\w+)\}", r"<\1>", path), method.upper())
        for path, method, _ in operations(spec)
    }
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.endpoint.startswith("api-docs."):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule)
        missing += [
            f"{m} {rule.rule}"
            for m in rule.methods - {"HEAD", "OPTIONS"}
            if (path, m) not in documented
        ]
    assert missing == []


def test_pages_and_metrics_are_not_operations(spec):
    """The document is the JSON API's: no page routes, no Prometheus endpoint."""
    assert all(p.startswith(("/api/", "/healthz")) for p in spec["paths"])


def test_no_catch_all_answer(spec):
    """No `default`: a status the document does not list is a bug the fuzzer reports."""
    assert [(p, m) for p, m, op in operations(spec) if "default" in op["responses"]] == []


def test_signed_in_operations_document_401_and_their_security(spec):
    """401 wherever a sign-in is needed, and how to sign in; public ones say they are public."""
    for path, method, op in operations(spec):
        if op["security"]:
            assert "401" in op["responses"], (path, method)
            assert op["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]
        else:
            # The resident's side (issue 15) is public by design: /api/v1/public/...
            public = path.startswith(("/healthz", "/api/v1/public/"))
            assert public or path == "/api/v1/auth/tokens", (path, method)
    assert set(spec["components"]["securitySchemes"]) == {"bearerAuth", "cookieAuth"}


def test_database_backed_operations_document_503(spec):
    """The database may be down: every operation that uses it documents 503."""
    for path, method, op in operations(spec):
        if path != "/healthz/live":  # liveness never asks the database (app.apidoc.NO_DATABASE)
            assert "503" in op["responses"], (path, method)


def test_body_operations_document_400_413_415(spec):
    """Bodies can be malformed, too large or of the wrong type."""
    for path, method, op in operations(spec):
        if method in ("post", "put", "patch"):
            assert {"400", "413", "415"} <= set(op["responses"]), (path, method)


def test_errors_have_the_one_shape(spec):
    """Every answer from 400 up is the Error schema, all four fields required."""
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "status", "message", "errors"}
    assert error["additionalProperties"] is False
    refs = spec["components"]["responses"]
    for path, method, op in operations(spec):
        for status, answer in op["responses"].items():
            if int(status) < 400:
                continue
            if "$ref" in answer:
                answer = refs[answer["$ref"].rsplit("/", 1)[1]]
            schema = answer["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/regions", "application/geo+json"),
        ("/api/v1/regions/{code}", "application/geo+json"),
        ("/api/v1/grid-cells", "application/geo+json"),
        ("/api/v1/cases.geojson", "application/geo+json"),
        (
            "/api/v1/cases/export.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        ("/api/v1/cases/export.csv", "text/csv"),
    ],
)
def test_geojson_and_files_declare_their_types(spec, path, content_type):
    """Maps answer application/geo+json, exports their file types (not application/json)."""
    assert list(spec["paths"][path]["get"]["responses"]["200"]["content"]) == [content_type]


def test_geojson_answers_are_described(spec):
    """The map layers' FeatureCollection: type and features required, foreign members allowed."""
    schema = spec["components"]["schemas"]["FeatureCollection"]
    assert {"type", "features"} <= set(schema["required"])
    assert schema["additionalProperties"] is True
    answer = spec["paths"]["/api/v1/cases.geojson"]["get"]["responses"]["200"]
    assert answer["content"]["application/geo+json"]["schema"] == {
        "$ref": "#/components/schemas/FeatureCollection"
    }
