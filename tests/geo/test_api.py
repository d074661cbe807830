"""Geography API: locate, regions, grid cells."""

import pytest
from shapely.geometry import shape
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from app.geo.crs import wgs84_to_gcj02
from tests.factories import bearer
from tests.factories import make_user
from tests.geo.factories import VILLAGE
from tests.geo.factories import VILLAGE_B
from tests.geo.factories import build_cells
from tests.geo.factories import build_county


@pytest.fixture
def geo():
    """The small test county with three grid cells; the auth header of a county official."""
    build_county()
    build_cells()
    official = make_user("county-official", "official", "371699000000")
    return bearer(official)


def assert_error_shape(response, status):
    """The one JSON error shape."""
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["code"] == status
    return body


def test_locate_inside_a_cell(client, geo):
    """A point inside a cell returns the cell, village, town and county."""
    response = client.get("/api/v1/locate?lon=118.01&lat=37.32", headers=geo)
    assert response.status_code == 200
    body = response.get_json()
    assert body["grid_cell"] == {"code": f"{VILLAGE}001", "name": "东村第1网格"}
    assert body["village"] == {"code": VILLAGE, "name": "东村"}
    assert body["town"]["code"] == "371699101000"
    assert body["county"] == {"code": "371699000000", "name": "测试县"}


@pytest.mark.parametrize(
    ("lon", "lat", "expected"),
    [
        (118.025, 37.32, f"{VILLAGE}001"),  # border between cells 001 and 002
        (118.05, 37.32, f"{VILLAGE}002"),  # border between two villages
        (118.025, 37.3, f"{VILLAGE}001"),  # corner on the village's edge
    ],
)
def test_locate_on_a_shared_border_picks_the_lowest_code(client, geo, lon, lat, expected):
    """A point on a shared border resolves to exactly one cell: the lowest code."""
    body = client.get(f"/api/v1/locate?lon={lon}&lat={lat}", headers=geo).get_json()
    assert body["grid_cell"]["code"] == expected


def test_locate_outside_every_cell(client, geo):
    """Outside every cell: 404, a clear message and the nearest village."""
    response = client.get("/api/v1/locate?lon=118.12&lat=37.32", headers=geo)
    body = assert_error_shape(response, 404)
    assert "不在您辖区内的任何网格内" in body["message"]
    assert body["errors"]["nearest_village"]["code"] in {VILLAGE_B, "371699102200"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("lat=37.3", "lon"),
        ("lon=118.0", "lat"),
        ("lon=abc&lat=37.3", "lon"),
        ("lon=181&lat=37.3", "lon"),
        ("lon=118&lat=-91", "lat"),
        ("lon=118&lat=37.3&crs=epsg3857", "crs"),
        ("lon=nan&lat=37.3", "lon"),
    ],
)
def test_locate_bad_coordinates_are_400(client, geo, query, field):
    """Missing, malformed or out-of-range coordinates: 400 naming the field."""
    body = assert_error_shape(client.get(f"/api/v1/locate?{query}", headers=geo), 400)
    assert field in body["errors"]["query"]


def test_locate_gcj02(client, geo):
    """A GCJ-02 point (as Amap gives it) is converted before locating."""
    lon, lat = wgs84_to_gcj02(118.049, 37.34)
    # The raw GCJ-02 point lies several hundred metres east, in the other village.
    raw = client.get(f"/api/v1/locate?lon={lon}&lat={lat}", headers=geo).get_json()
    assert raw["village"]["code"] == VILLAGE_B
    body = client.get(f"/api/v1/locate?lon={lon}&lat={lat}&crs=gcj02", headers=geo).get_json()
    assert body["grid_cell"]["code"] == f"{VILLAGE}002"
    assert body["lon"] == pytest.approx(118.049, abs=1e-8)


def test_grid_cells_geojson_is_valid(client, geo):
    """The FeatureCollection is RFC 7946: geo+json, features with valid MultiPolygons."""
    response = client.get("/api/v1/grid-cells?bbox=117.9,37.2,118.3,37.6", headers=geo)
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    body = response.get_json(force=True)
    assert body["type"] == "FeatureCollection"
    assert [f["id"] for f in body["features"]] == [
        f"{VILLAGE}001",
        f"{VILLAGE}002",
        f"{VILLAGE_B}001",
    ]
    for feat in body["features"]:
        assert feat["type"] == "Feature"
        geom = shape(feat["geometry"])
        assert geom.geom_type == "MultiPolygon" and geom.is_valid
        ring = feat["geometry"]["coordinates"][0][0]
        assert ring[0] == ring[-1]
        assert set(feat["properties"]) >= {"code", "name", "village_code", "village_name"}
    assert body["truncated"] is False


def test_grid_cells_filters_and_limit(client, geo):
    """bbox and village filter; limit truncates and says so."""
    body = client.get("/api/v1/grid-cells?bbox=118.06,37.31,118.07,37.32", headers=geo).get_json(
        force=True
    )
    assert [f["id"] for f in body["features"]] == [f"{VILLAGE_B}001"]
    body = client.get(f"/api/v1/grid-cells?village={VILLAGE}", headers=geo).get_json(force=True)
    assert len(body["features"]) == 2
    body = client.get("/api/v1/grid-cells?limit=1", headers=geo).get_json(force=True)
    assert len(body["features"]) == 1 and body["truncated"] is True


@pytest.mark.parametrize(
    "query",
    [
        "bbox=118.2,37.3,118.0,37.5",
        "bbox=118,37.3,118.1",
        "bbox=a,b,c,d",
        "bbox=118,37,200,38",
        "bbox=100,20,120,40",
        "limit=0",
        "limit=5001",
        "village=12",
    ],
)
def test_grid_cells_bad_query_is_400(client, geo, query):
    """Inverted, malformed, out-of-range or too-large bboxes and bad limits: 400."""
    assert_error_shape(client.get(f"/api/v1/grid-cells?{query}", headers=geo), 400)


def test_regions_list_and_detail(client, geo):
    """Regions by level and parent, and one region, as GeoJSON."""
    body = client.get("/api/v1/regions?level=village&parent=371699101000", headers=geo).get_json(
        force=True
    )
    assert [f["properties"]["code"] for f in body["features"]] == [VILLAGE, VILLAGE_B]
    response = client.get(f"/api/v1/regions/{VILLAGE}", headers=geo)
    assert response.mimetype == "application/geo+json"
    feat = response.get_json(force=True)
    assert feat["type"] == "Feature" and feat["properties"]["level"] == "village"
    assert shape(feat["geometry"]).is_valid
    assert_error_shape(client.get("/api/v1/regions/371699999999", headers=geo), 404)


def test_a_region_outside_the_scope_is_404_like_a_missing_one_and_audited(client, geo):
    """Issue 19 item 9: a village official asking for the other town's region gets the missing
    region's answer, and the denial is in the audit log (an unknown code is not a denial)."""
    village = bearer(make_user("village-official", "official", VILLAGE))
    outside = client.get("/api/v1/regions/371699102000", headers=village)
    missing = client.get("/api/v1/regions/371699999999", headers=village)
    assert outside.status_code == missing.status_code == 404
    assert outside.get_json() == missing.get_json()
    denials = db.session.scalars(
        select(AuditEntry).where(AuditEntry.outcome == "denied", AuditEntry.object_type == "region")
    ).all()
    assert [(d.action, d.object_id) for d in denials] == [("geo.read", "371699102000")]


def test_unknown_route_and_wrong_method(client):
    """404 and 405 use the standard error shape too."""
    assert_error_shape(client.get("/api/v1/nothing-here"), 404)
    response = client.post("/api/v1/locate")
    assert_error_shape(response, 405)
    assert "GET" in response.headers["Allow"]


def test_openapi_document_lists_the_operations(client):
    """The OpenAPI document describes the geography operations and their errors."""
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {"/api/v1/locate", "/api/v1/grid-cells", "/api/v1/regions", "/healthz"} <= set(
        spec["paths"]
    )
    assert "404" in spec["paths"]["/api/v1/locate"]["get"]["responses"]
