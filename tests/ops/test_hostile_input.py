"""Hostile input on the real API: every refusal in the standard shape, never a stack trace.

The guards themselves (413, 415, broken JSON, the statement timeout) are tested on probe routes
in test_guards.py; this module sends the same things to the real operations, plus the limits
of the map layers and of geometry, and the fuzzer's findings as regression tests.
"""

from __future__ import annotations

import pytest
from flask import Blueprint
from sqlalchemy import text

from app import create_app
from app.errors import error_response
from app.extensions import db
from app.geo import services as geo
from tests.cases.factories import case_body
from tests.cases.factories import report
from tests.factories import bearer
from tests.geo.factories import VILLAGE
from tests.geo.factories import box
from tests.geo.factories import collection
from tests.geo.factories import feature

READ_BBOX = "118.0,37.3,118.1,37.4"


def assert_error(response, status: int) -> dict:
    """The standard error shape, with this status and no trace of Python."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == status
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    return body


# --- methods, media types, syntax, size ---------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("delete", "/api/v1/cases", {"GET", "POST"}),
        ("put", "/api/v1/cases.geojson", {"GET"}),
        ("patch", "/api/v1/grid-cells", {"GET"}),
        ("get", "/api/v1/auth/tokens/1", {"DELETE"}),
        ("put", "/healthz", {"GET"}),
    ],
)
def test_wrong_method_is_405_with_allow(client, world, method, path, allowed):
    """405 names the methods the path has, signed in or not, whatever the CSRF state."""
    for headers in ({}, bearer(world["official@town"])):
        response = getattr(client, method)(path, headers=headers)
        assert_error(response, 405)
        assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_a_text_body_to_the_report_api_is_415(client, world):
    """A report sent as text/plain: 415 naming the type, before authentication matters."""
    response = client.post(
        "/api/v1/cases",
        data='{"kind": "dispute"}',
        content_type="text/plain",
        headers=bearer(world["grid_worker@village"]),
    )
    assert assert_error(response, 415)["errors"] == {"content_type": "text/plain"}


@pytest.mark.parametrize("body", ['{"kind": ', "[1, 2", "{'kind': 'dispute'}", b"\xff\xfe"])
def test_malformed_json_to_the_api_is_400(client, world, body):
    """A JSON body that does not parse, to a report and to an action: 400."""
    headers = bearer(world["grid_worker@village"])
    for path in ("/api/v1/cases", "/api/v1/cases/371699-2026-000001/actions/accept"):
        response = client.post(path, data=body, content_type="application/json", headers=headers)
        assert assert_error(response, 400)["message"] == "请求内容不是有效的 JSON"


def test_an_oversize_report_is_413(client, world, app, monkeypatch):
    """A report larger than MAX_CONTENT_LENGTH: 413 before anything reads it."""
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2048)
    body = case_body(description="漏" * 2000)
    response = client.post("/api/v1/cases", json=body, headers=bearer(world["grid_worker@village"]))
    assert assert_error(response, 413)["message"] == "请求内容过大"


# --- map layers: bbox and limit ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/cases.geojson", "/api/v1/grid-cells"])
@pytest.mark.parametrize(
    "bbox",
    [
        "117.0,37.0,119.5,37.5",  # 2.5° wide: larger than the 2° cap
        "118.0,36.0,118.1,38.5",  # 2.5° tall
        "118.1,37.3,118.0,37.4",  # inverted longitudes
        "118.0,37.4,118.1,37.3",  # inverted latitudes
        "118.0,37.3,118.1",  # three numbers
        "118.0,37.3,118.1,nan",
        "-200,37.3,118.1,37.4",
        "a,b,c,d",
    ],
)
def test_bad_or_oversized_bbox_is_400(client, world, path, bbox):
    """A map layer refuses a bbox that is too large, inverted or not four sane numbers."""
    response = client.get(
        path, query_string={"bbox": bbox}, headers=bearer(world["official@county"])
    )
    assert "bbox" in assert_error(response, 400)["errors"]["query"]


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/api/v1/grid-cells", 5001),
        ("/api/v1/cases.geojson", 20001),
        ("/api/v1/cases", 201),
        ("/api/v1/audit", 501),
        ("/api/v1/grid-cells", 0),
        ("/api/v1/cases", -1),
    ],
)
def test_limits_are_capped(client, world, path, limit):
    """Page sizes above the cap (or below 1) are refused, not silently served."""
    user = world["admin@county"] if path == "/api/v1/audit" else world["official@county"]
    response = client.get(path, query_string={"limit": limit}, headers=bearer(user))
    assert "limit" in assert_error(response, 400)["errors"]["query"]


def test_map_layers_answer_within_their_caps(client, world):
    """A bbox at the cap and the largest limit are served, with `truncated` saying so."""
    headers = bearer(world["official@county"])
    cells = client.get(
        "/api/v1/grid-cells",
        query_string={"bbox": "117.0,36.5,119.0,38.5", "limit": 1},
        headers=headers,
    ).get_json()
    assert cells["numberReturned"] == 1 and cells["truncated"] is True
    cases = client.get(
        "/api/v1/cases.geojson", query_string={"bbox": READ_BBOX, "limit": 20000}, headers=headers
    )
    assert cases.status_code == 200
    assert cases.headers["Content-Type"].startswith("application/geo+json")


# --- JSON types in bodies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"lon": "118.01"},
        {"lat": True},
        {"group_visit": "yes"},
        {"group_visit": 1},
        {"risk_point_id": 2.5},
        {"risk_point_id": "3"},
    ],
)
def test_report_fields_take_only_their_json_type(client, world, overrides):
    """ "118.01" is not a number and 1 is not true: 422 naming the field, nothing reported."""
    response = report(client, world["grid_worker@village"], **overrides)
    body = assert_error(response, 422)
    assert set(overrides) <= set(body["errors"]["json"])


@pytest.mark.parametrize("days", [2.5, "5", True])
def test_extension_days_must_be_a_json_integer(client, world, days):
    """2.5 days used to become 2 days without a word."""
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    mediator = bearer(world["mediator@village"])
    client.post(f"/api/v1/cases/{number}/actions/accept", json={"version": 1}, headers=mediator)
    response = client.post(
        f"/api/v1/cases/{number}/actions/request_extension",
        json={"version": 2, "days": days, "reason": "等待鉴定"},
        headers=mediator,
    )
    assert "days" in assert_error(response, 422)["errors"]["json"]


@pytest.mark.parametrize("body", ["[1, 2]", '"accept"', "3", "null"])
def test_an_action_body_that_is_not_an_object_is_refused(client, world, body):
    """A JSON array, string, number or null as an action body: 422 in its turn (it was a 500).

    It carries no version, so without If-Match the missing version (428) comes first.
    """
    number = report(client, world["grid_worker@village"]).get_json()["number"]
    headers = bearer(world["mediator@village"])
    path = f"/api/v1/cases/{number}/actions/accept"
    response = client.post(path, data=body, content_type="application/json", headers=headers)
    assert_error(response, 428)
    headers["If-Match"] = '"1"'
    response = client.post(path, data=body, content_type="application/json", headers=headers)
    assert assert_error(response, 422)["errors"]["json"] == {"_schema": ["请求体应为 JSON 对象"]}


def test_list_errors_next_to_schema_errors_keep_the_error_shape(app):
    """marshmallow keys list items by index beside "_schema"; encoding that used to be a 500."""
    errors = {"json": {"subcategories": {1: ["Not a valid string."], "_schema": ["重复"]}}}
    with app.test_request_context("/api/v1/probe"):
        response, status = error_response(422, None, errors)
    assert status == 422
    assert response.get_json()["errors"]["json"]["subcategories"] == {
        "1": ["Not a valid string."],
        "_schema": ["重复"],
    }


def test_reveal_reason_is_validated(client, world):
    """The reveal reason is a short string; anything else is 422, not quietly audited."""
    created = report(client, world["grid_worker@village"]).get_json()
    party = created["parties"][0]["id"]
    response = client.post(
        f"/api/v1/cases/{created['number']}/parties/{party}/reveal",
        json={"purpose": "mediation", "reason": ["调解"]},
        headers=bearer(world["mediator@village"]),
    )
    assert "reason" in assert_error(response, 422)["errors"]["json"]


# --- the database going away ---------------------------------------------------------------------


def test_a_connection_lost_after_the_answer_is_not_a_500(database_url, monkeypatch, fsa_session):
    """The database restarting between the answer and the request's end: the answer stands.

    Found by the soak (bench/soak.py): the rollback at teardown raised, and gunicorn sent a
    bare 500 page instead of the answer the view had made.
    """
    monkeypatch.setattr(db, "session", fsa_session)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url})
    probe = Blueprint("lost_probe", __name__, url_prefix="/api/v1/_test")

    @probe.route("/lost")
    def lost():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        return {"pid": pid}

    app.register_blueprint(probe)
    try:
        client = app.test_client()
        assert client.get("/api/v1/_test/lost").status_code == 200
        assert client.get("/healthz/ready").status_code == 200  # the pool recovered
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# --- NUL characters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/cases", {"q": "漏水\x00"}),
        ("/api/v1/cases/export.xlsx", {"q": "\x00", "region": "304988992858"}),
        ("/api/v1/cases", {"category\x00": "邻里"}),
        ("/api/v1/locate", {"lon": "118.01", "lat": "37.32", "crs": "wgs84\x00"}),
    ],
)
def test_nul_in_the_query_string_is_400(client, world, path, query):
    """PostgreSQL text cannot hold U+0000; a search for one used to be a 500."""
    response = client.get(path, query_string=query, headers=bearer(world["official@town"]))
    assert "query" in assert_error(response, 400)["errors"]


def test_nul_in_a_json_body_is_422_naming_the_field(client, world):
    """A title or a party's name with U+0000: 422 naming where it is, nothing reported."""
    response = report(
        client,
        world["grid_worker@village"],
        title="漏水\x00",
        parties=[{"role": "applicant", "name": "张\x00三"}],
    )
    assert set(assert_error(response, 422)["errors"]["json"]) == {"title", "parties.0.name"}


def test_nul_in_the_path_or_a_form_is_refused(client):
    """A case number with U+0000 is no case (404); a sign-in form with one is 400."""
    assert_error(client.get("/api/v1/cases/%00", headers={"Accept": "application/json"}), 404)
    response = client.post(
        "/api/v1/auth/tokens",
        data={"username": "a\x00", "password": "x"},
        headers={"Accept": "application/json"},
    )
    assert "form" in assert_error(response, 400)["errors"]


# --- geometry ------------------------------------------------------------------------------------


def rejected(data, level: str) -> list[str]:
    """The problems an import reports (it must be refused)."""
    with pytest.raises(geo.ImportRejected) as refused:
        geo.import_geojson(data, level)
    return [p.message for p in refused.value.problems]


def ring(n: int, lon: float = 118.0, lat: float = 37.3, size: float = 0.01) -> list:
    """A closed ring of n + 1 positions along a square's bottom edge and back."""
    step = size / n
    positions = [[lon + i * step, lat] for i in range(n)]
    return [*positions, [lon + size, lat + size], [lon, lat + size], [lon, lat]]


@pytest.mark.parametrize(
    ("geometry", "reason"),
    [
        ({"type": "Polygon", "coordinates": [ring(100_001)]}, "顶点过多"),
        (box(100.0, 30.0, 112.0, 33.0), "范围过大"),
        (box(118.0, 30.0, 119.0, 41.0), "范围过大"),
        (box(10.0, 37.3, 10.2, 37.5), "坐标超出中国范围"),
        (
            {
                "type": "Polygon",
                "coordinates": [[[118, 37], [119, 38], [119, 37], [118, 38], [118, 37]]],
            },
            "几何无效",
        ),
        ({"type": "Polygon", "coordinates": []}, "没有坐标"),
        ({"type": "Point", "coordinates": [118.0, 37.3]}, "几何类型应为"),
    ],
)
def test_import_refuses_bad_geometry_with_a_reason(app, geometry, reason):
    """Invalid, empty, enormous or foreign geometry: refused, with the reason named."""
    data = collection(feature("371697000000", "测试县", geometry))
    problems = rejected(data, "county")
    assert any(reason in message for message in problems), problems


def test_import_takes_a_large_but_sane_county(app):
    """A real county's size and a detailed boundary pass the new limits."""
    detailed = {"type": "Polygon", "coordinates": [ring(20_000, 100.0, 36.0, 6.0)]}
    result = geo.import_geojson(collection(feature("371697000000", "大县", detailed)), "county")
    assert result.inserted == 1


def test_enormous_cells_are_refused_too(app, world):
    """The size cap holds at every level (a cell is checked before its village containment)."""
    data = collection(feature(f"{VILLAGE}009", "巨型网格", box(100.0, 30.0, 111.0, 31.0), VILLAGE))
    assert any("范围过大" in p for p in rejected(data, "grid"))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "漏水\u202e纠纷"}, "title"),  # a bidi override: shows the text reversed
        ({"title": "漏水\r\n纠纷"}, "title"),  # a line break in a one-line value
        ({"title": "漏\u200b水纠纷"}, "title"),  # zero-width: two titles that look alike
        ({"description": "楼上\x07漏水"}, "description"),  # a control character
        ({"occurred_at": "9999-01-01T00:00:00+08:00"}, "occurred_at"),
        ({"occurred_at": "0001-01-01T00:00:00+08:00"}, "occurred_at"),
        ({"occurred_at": "2099-01-01T00:00:00+08:00"}, "occurred_at"),
    ],
)
def test_hidden_characters_and_impossible_times_are_refused(client, world, overrides, field):
    """Accepted before where a 4xx belongs (issue 19 item 6): 422 naming the field, no case."""
    response = report(client, world["grid_worker@village"], **overrides)
    body = assert_error(response, 422)
    assert field in body["errors"]["json"], body
    assert db.session.execute(text("SELECT count(*) FROM cases")).scalar() == 0


def test_a_party_name_with_a_line_break_is_refused_and_multi_line_text_is_not(client, world):
    """One-line values refuse line breaks; a description may have them."""
    body = case_body(description="第一行\n第二行")
    body["parties"][0]["name"] = "张三\n李四"
    refused = client.post("/api/v1/cases", json=body, headers=bearer(world["grid_worker@village"]))
    assert "parties.0.name" in assert_error(refused, 422)["errors"]["json"]
    body["parties"][0]["name"] = "张三"
    taken = client.post("/api/v1/cases", json=body, headers=bearer(world["grid_worker@village"]))
    assert taken.status_code == 201, taken.get_json()


def test_a_3d_point_is_refused_not_flattened(client, world):
    """A risk point at [lon, lat, z] lost its z without a word (issue 19 item 6)."""
    from tests.risks.factories import register

    response = register(
        client,
        world["grid_worker@village"],
        geometry={"type": "Point", "coordinates": [118.01, 37.32, 12.0]},
    )
    body = assert_error(response, 422)
    assert "geometry" in body["errors"]["json"]
    assert db.session.execute(text("SELECT count(*) FROM risk_points")).scalar() == 0


def test_a_file_name_hiding_its_extension_is_refused(client, world):
    """ "photo\u202egpj.exe" shows as "photoexe.jpg": refused, not cleaned."""
    import io

    from tests.risks.factories import png_bytes

    number = report(client, world["grid_worker@village"]).get_json()["number"]
    response = client.post(
        f"/api/v1/cases/{number}/photos",
        data={"photos": (io.BytesIO(png_bytes()), "photo\u202egpj.png")},
        content_type="multipart/form-data",
        headers=bearer(world["grid_worker@village"]),
    )
    assert response.status_code == 422, response.get_json()
    assert db.session.execute(text("SELECT count(*) FROM attachments")).scalar() == 0
