"""Registering risk points: placement by point and polygon, and every refusal writing nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.audit.models import AuditEntry
from app.core import clock
from app.extensions import db
from app.geo.crs import wgs84_to_gcj02
from app.risks import services
from app.risks.models import RiskPoint
from tests.factories import bearer
from tests.geo.factories import VILLAGE
from tests.geo.factories import box
from tests.risks.factories import POINT
from tests.risks.factories import POINT_OTHER_COUNTY
from tests.risks.factories import POINT_VILLAGE_B
from tests.risks.factories import POLYGON_MOSTLY_CELL1
from tests.risks.factories import make_point
from tests.risks.factories import register
from tests.risks.factories import risk_body
from tests.tiles.mvt import decode
from tests.tiles.test_tiles import tile_of


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


def written() -> tuple[int, int, int]:
    """Risk points, history entries and risk audit entries in the database."""
    return db.session.execute(
        text(
            """
            SELECT (SELECT count(*) FROM risk_points), (SELECT count(*) FROM risk_events),
                   (SELECT count(*) FROM audit_log WHERE action LIKE 'risks.%'
                                                     AND outcome = 'success')
            """
        )
    ).one()


def test_point_is_placed_in_its_cell_and_village(client, world):
    """201: a point lands in its grid cell, village, town and county, with a code and a plan."""
    response = register(client, world["grid_worker@village"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["code"].startswith("371699-FX-")
    assert body["grid_cell"]["code"] == f"{VILLAGE}001"
    assert body["village"]["code"] == VILLAGE
    assert body["town"]["code"] == "371699101000"
    assert body["county"]["code"] == "371699000000"
    assert (body["status"], body["level"], body["geometry_type"]) == ("active", "yellow", "Point")
    assert body["responsible"]["name"] == "gw-village"
    assert body["inspection_days"] == 30 and body["overdue"] is False
    assert response.headers["Location"].endswith(f"/api/v1/risk-points/{body['id']}")
    point = db.session.get(RiskPoint, body["id"])
    assert point.next_due == clock.local_date(point.registered_at) + services.dt.timedelta(30)
    assert [(e.action, e.to_level, e.to_status) for e in point.events] == [
        ("register", "yellow", "active")
    ]


@pytest.mark.parametrize(
    ("polygon", "cell"),
    [
        (POLYGON_MOSTLY_CELL1, "001"),  # 2/3 in cell 001, 1/3 in cell 002
        (box(118.02, 37.32, 118.04, 37.33), "002"),  # 1/4 in 001, 3/4 in 002
    ],
)
def test_polygon_goes_to_the_cell_holding_most_of_it(client, world, polygon, cell):
    """A polygon across two cells of one village lands in the cell holding most of its area."""
    response = register(client, world["mediator@village"], geometry=polygon)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["grid_cell"]["code"] == f"{VILLAGE}{cell}"
    assert body["geometry_type"] == "Polygon"
    assert body["geometry"]["coordinates"] == polygon["coordinates"]


def test_gcj02_geometry_is_converted(client, world):
    """crs=gcj02: every vertex is converted to WGS84 before PostGIS sees it."""
    lon, lat = wgs84_to_gcj02(118.049, 37.34)
    response = register(
        client,
        world["mediator@village"],
        geometry={"type": "Point", "coordinates": [lon, lat]},
        crs="gcj02",
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["grid_cell"]["code"] == f"{VILLAGE}002"
    assert body["lon"] == pytest.approx(118.049, abs=1e-7)
    assert body["lat"] == pytest.approx(37.34, abs=1e-7)


BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[118.01, 37.31], [118.02, 37.32], [118.02, 37.31], [118.01, 37.32],
                     [118.01, 37.31]]],
}  # fmt: skip


@pytest.mark.parametrize(
    ("user", "overrides", "status", "message", "field"),
    [
        ("mediator@village", {"geometry": BOWTIE}, 422, "自相交", "geometry"),
        ("mediator@village", {"geometry": {"type": "Polygon", "coordinates": []}}, 422, "为空",
         "geometry"),
        ("mediator@village", {"geometry": {"type": "Point", "coordinates": [10.0, 50.0]}}, 422,
         "中国境内", "geometry"),
        # 东村 and 西村 meet at 118.05: this box straddles them.
        ("mediator@town", {"geometry": box(118.04, 37.31, 118.06, 37.32)}, 422, "跨越 2 个村",
         "geometry"),
        ("mediator@village", {"geometry": {"type": "LineString",
                                           "coordinates": [[118.01, 37.31], [118.02, 37.32]]}},
         422, "提交的数据有误", "geometry"),
        ("mediator@village", {"geometry": {"type": "Polygon", "coordinates": [
            [[118.01, 37.31], [118.02, 37.31], [118.02, 37.32], [118.01, 37.32]]]}},
         422, "提交的数据有误", "geometry"),
        ("mediator@village", {"category": "天气"}, 422, "风险类别不存在", "category"),
        ("mediator@village", {"level": "purple"}, 422, "提交的数据有误", "level"),
        ("mediator@village", {"measures": ""}, 422, "提交的数据有误", "measures"),
        ("mediator@village", {"category": "重点人群", "subcategory": "独居高龄老人"}, 422,
         "风险点信息有误", "description"),
        ("mediator@village", {"category": "重点人群", "name": None, "description": None}, 422,
         "风险点信息有误", "subcategory"),
        ("mediator@village", {"category": "四乱", "subcategory": "乱画"}, 422, "风险点信息有误",
         "subcategory"),
    ],
)  # fmt: skip
def test_bad_registration_is_refused_and_writes_nothing(
    client, world, user, overrides, status, message, field
):
    """Each refusal answers with the reason, names the field, and leaves nothing behind."""
    body = {k: v for k, v in overrides.items() if v is not None}
    drop = [k for k, v in overrides.items() if v is None]
    payload = {k: v for k, v in risk_body(**body).items() if k not in drop}
    response = client.post("/api/v1/risk-points", json=payload, headers=bearer(world[user]))
    assert response.status_code == status, response.get_json()
    answer = response.get_json()
    assert message in answer["message"], answer
    assert field in answer["errors"]["json"], answer
    assert written() == (0, 0, 0)


def test_invalid_polygon_says_why(client, world):
    """The reason is PostGIS's own (ST_IsValidReason), with the spot, glossed in Chinese."""
    response = register(client, world["mediator@village"], geometry=BOWTIE)
    message = response.get_json()["message"]
    assert "Self-intersection[" in message and "边界自相交" in message


def test_point_outside_every_cell_names_the_nearest_village(client, world):
    """422 with the nearest village of the caller's jurisdiction; nothing written."""
    response = register(
        client, world["official@county"], geometry={"type": "Point", "coordinates": [118.12, 37.32]}
    )
    assert response.status_code == 422
    body = response.get_json()
    assert "最近的村是" in body["message"]
    assert body["errors"]["nearest_village"]["code"] == "371699102200"
    assert written() == (0, 0, 0)


@pytest.mark.parametrize(
    ("user", "geometry"),
    [
        ("grid_worker@village", POINT_VILLAGE_B),  # another village of the same town
        ("mediator@village", box(118.06, 37.31, 118.07, 37.32)),  # a polygon in that village
        ("official@county", POINT_OTHER_COUNTY),  # another county
    ],
)
def test_outside_jurisdiction_is_403(client, world, user, geometry):
    """A place outside the caller's jurisdiction: 403, nothing written, nothing named."""
    response = register(client, world[user], geometry=geometry)
    assert response.status_code == 403
    assert "371698" not in response.get_data(as_text=True)
    assert written() == (0, 0, 0)


def test_responsible_person_must_be_in_scope(client, world):
    """The responsible person must be a field user in scope whose jurisdiction holds the point."""
    for key in ("outsider", "admin@village", "mediator@village"):
        person_id = world[key].id  # requests end the session: keep the id
        response = register(client, world["official@town"], responsible_id=person_id)
        if key == "mediator@village":
            assert response.status_code == 201, response.get_json()
            assert response.get_json()["responsible"]["id"] == person_id
        else:
            assert response.status_code == 422, key
            assert "responsible_id" in response.get_json()["errors"]["json"]
    bad = register(
        client,
        world["official@town"],
        responsible_id=world["mediator@village"].id,
        geometry=POINT_VILLAGE_B,  # in 西村: outside that village mediator's jurisdiction
    )
    assert bad.status_code == 422


def test_key_population_point_holds_no_free_text(client, world):
    """重点人群: sub-category, measures and responsible person only; on the map, generalised."""
    response = register(
        client,
        world["grid_worker@village"],
        category="重点人群",
        subcategory="独居高龄老人",
        name=None,
        description=None,
    )
    assert response.status_code == 422  # name and description given by risk_body are refused
    body = {
        k: v
        for k, v in risk_body(category="重点人群", subcategory="独居高龄老人").items()
        if k not in ("name", "description")
    }
    headers = bearer(world["grid_worker@village"])
    response = client.post("/api/v1/risk-points", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    point = response.get_json()
    assert point["description"] is None and point["name"] == "重点人群·独居高龄老人"
    layer = client.get("/api/v1/risk-points.geojson", headers=headers).get_json()
    feature = next(f for f in layer["features"] if f["id"] == point["code"])
    assert feature["properties"]["generalized"] is True
    assert feature["properties"]["name"] is None
    # Shown at its grid cell's inner point, not at the household: on the layer and in the answer.
    assert feature["geometry"]["coordinates"] != POINT["coordinates"]
    assert point["generalized"] is True
    assert point["geometry"]["coordinates"] == pytest.approx(feature["geometry"]["coordinates"])
    assert [point["lon"], point["lat"]] == pytest.approx(feature["geometry"]["coordinates"])
    inside = db.session.scalar(
        text(
            "SELECT ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) FROM grid_cells"
            " WHERE code = :c"
        ),
        {
            "x": feature["geometry"]["coordinates"][0],
            "y": feature["geometry"]["coordinates"][1],
            "c": f"{VILLAGE}001",
        },
    )
    assert inside


def test_a_key_population_point_s_exact_place_is_given_only_on_an_audited_reveal(client, world):
    """Issue 19 item 1: detail, page and tile show the cell's point; the grid worker (and an
    official) may ask for the exact place with a reason, which the audit log records; a mediator
    may not, and nothing is written for them."""
    body = {
        k: v
        for k, v in risk_body(category="重点人群", subcategory="独居高龄老人").items()
        if k not in ("name", "description")
    }
    worker = bearer(world["grid_worker@village"])
    made = client.post("/api/v1/risk-points", json=body, headers=worker).get_json()
    shown = client.get(f"/api/v1/risk-points/{made['id']}", headers=worker).get_json()
    assert shown["generalized"] is True and shown["geometry"]["coordinates"] != POINT["coordinates"]
    page = client.get(f"/risk-points/{made['code']}", headers=worker).get_data(as_text=True)
    assert f'data-lon="{POINT["coordinates"][0]}"' not in page
    # The tile draws it at the same generalized point (decoded tile coordinates, z16).
    z, x, y = tile_of(*shown["geometry"]["coordinates"], z=16)
    tile = client.get(f"/api/v1/tiles/risk_points/{z}/{x}/{y}.pbf", headers=worker)
    (feature,) = decode(tile.get_data())["risk_points"]
    assert feature["properties"]["generalized"] is True
    household = tile_of(*POINT["coordinates"], z=16)
    assert household != (z, x, y)  # the household is in another z16 tile: nothing drawn there
    other = client.get(
        f"/api/v1/tiles/risk_points/{household[0]}/{household[1]}/{household[2]}.pbf",
        headers=worker,
    )
    assert decode(other.get_data()).get("risk_points", []) == []

    def reveals() -> int:
        return db.session.query(AuditEntry).filter_by(action="risk_point.location_revealed").count()

    path = f"/api/v1/risk-points/{made['id']}/location"
    refused = client.post(path, json={"reason": "核实"}, headers=bearer(world["mediator@village"]))
    assert refused.status_code == 403 and reveals() == 0
    missing = client.post(path, json={}, headers=worker)
    assert missing.status_code == 422 and "reason" in str(missing.get_json()["errors"])
    revealed = client.post(path, json={"reason": "入户走访"}, headers=worker)
    assert revealed.status_code == 200, revealed.get_json()
    assert revealed.get_json()["geometry"]["coordinates"] == pytest.approx(POINT["coordinates"])
    entry = db.session.query(AuditEntry).filter_by(action="risk_point.location_revealed").one()
    assert (
        entry.detail["reason"] == "入户走访" and entry.actor_id == world["grid_worker@village"].id
    )
    out = client.post(
        f"/api/v1/risk-points/{made['id']}/location",
        json={"reason": "核实"},
        headers=bearer(world["official@town"]),
    )
    assert out.status_code == 200 and reveals() == 2


def test_risk_points_have_no_columns_for_sensitive_personal_data():
    """The table's columns are exactly these: a new one must be checked against 个人信息保护法
    第二十八条 (no diagnosis, criminal record, ID number, or a person's name or phone)."""
    columns = {c.name for c in RiskPoint.__table__.columns}
    assert columns == {
        "id", "code", "category_id", "subcategory", "level", "status", "name", "description",
        "measures", "responsible_id", "geom", "grid_cell_id", "village_id", "town_id",
        "county_id", "region_code", "registered_at", "registered_by_id", "last_inspected_on",
        "next_due", "overdue_since", "clear_requested_at", "clear_requested_by_id",
        "clear_reason", "cleared_at", "version", "created_at", "updated_at",
    }  # fmt: skip


def test_database_refuses_other_shapes(world):
    """The CHECK constraint keeps the generic geometry column to valid Points and Polygons."""
    made = make_point(world["mediator@village"])
    with pytest.raises(IntegrityError, match="geom_kind"), db.session.begin_nested():
        db.session.execute(
            text(
                "UPDATE risk_points SET geom = ST_GeomFromText("
                "'LINESTRING(118.01 37.31, 118.02 37.32)', 4326) WHERE id = :id"
            ),
            {"id": made.id},
        )
