"""雪亮工程 cameras: device codes, the API (scope, near, versions), the map layer."""

from __future__ import annotations

import pytest

from app.cameras import devicecode
from app.cameras.models import Camera
from app.extensions import db
from tests.cameras.factories import camera_body
from tests.cameras.factories import device_code
from tests.cameras.factories import make_camera
from tests.factories import bearer
from tests.risks.factories import make_point


@pytest.mark.parametrize(
    ("code", "ok"),
    [
        ("37169901001325000001", True),  # 网络摄像机 on the 公安信息网
        ("37169901001310000001", True),  # 摄像机 on a 监控报警专网
        ("3716990100132500000", False),  # 19 digits
        ("3716990100132500000A", False),  # not digits
        ("３７169901001325000001", False),  # full-width digits
        ("99169901001325000001", False),  # no province 99
        ("37169901001185000001", False),  # 118 is an NVR, not a camera
        ("37169901001329000001", False),  # network 9 is reserved
    ],
)
def test_device_code_structure_is_checked(code, ok):
    """Which 20-character codes are GB/T 28181 camera codes?"""
    assert (devicecode.problem(code) is None) is ok


def test_admin_registers_reads_and_changes_a_camera(client, world):
    """Register → detail → PATCH with If-Match; a stale version is 409, a bad code 422."""
    headers = bearer(world["admin@county"])
    created = client.post("/api/v1/cameras", json=camera_body(), headers=headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["grid_cell"]["code"] == "371699101200001"
    assert body["village"]["code"] == "371699101200"
    assert body["device_type"] == "网络摄像机" and created.headers["ETag"] == '"1"'
    camera_id = body["id"]

    again = client.post("/api/v1/cameras", json=camera_body(), headers=headers)
    assert again.status_code == 409 and "device_code" in again.get_json()["errors"]["json"]
    bad = client.post(
        "/api/v1/cameras",
        json=camera_body(2, device_code="37169901001185000002", video_url="javascript:alert(1)"),
        headers=headers,
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["errors"]["json"]) == {"device_code", "video_url"}
    outside = client.post(
        "/api/v1/cameras", json=camera_body(3, lon=118.32, lat=37.32), headers=headers
    )
    assert outside.status_code == 403
    assert db.session.query(Camera).count() == 1

    patched = client.patch(
        f"/api/v1/cameras/{camera_id}",
        json={"status": "fault", "lon": 118.04, "lat": 37.32},
        headers={**headers, "If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["status"] == "fault"
    assert patched.get_json()["grid_cell"]["code"] == "371699101200002"
    stale = client.patch(
        f"/api/v1/cameras/{camera_id}",
        json={"name": "旧的"},
        headers={**headers, "If-Match": '"1"'},
    )
    assert stale.status_code == 409
    missing = client.patch(f"/api/v1/cameras/{camera_id}", json={"name": "无版本"}, headers=headers)
    assert missing.status_code == 428
    assert db.session.get(Camera, camera_id).name == camera_body()["name"]


def test_near_bbox_scope_and_map_layer(client, world):
    """Nearby is nearest first within the radius; nobody sees the other county's cameras."""
    admin = world["admin@county"]
    near_id = make_camera(admin, 1, lon=118.0105, lat=37.32)  # about 44 m east
    far_id = make_camera(admin, 2, lon=118.04, lat=37.32)  # about 2.6 km east
    outside = make_camera(
        world["outsider-admin"], 3, device_code=device_code(3), lon=118.32, lat=37.32
    )
    headers = bearer(world["grid_worker@village"])
    near = client.get("/api/v1/cameras?near=118.01,37.32&radius=300", headers=headers)
    assert near.status_code == 200
    items = near.get_json()["items"]
    assert [c["id"] for c in items] == [near_id]
    assert 40 <= items[0]["distance_m"] <= 50
    everything = client.get("/api/v1/cameras?near=118.01,37.32&radius=2000", headers=headers)
    assert [c["id"] for c in everything.get_json()["items"]] == [near_id]
    too_far = client.get("/api/v1/cameras?near=118.01,37.32&radius=2001", headers=headers)
    assert too_far.status_code == 400 and "radius" in str(too_far.get_json()["errors"])
    listed = client.get("/api/v1/cameras?bbox=118.0,37.3,118.5,37.4", headers=headers)
    assert {c["id"] for c in listed.get_json()["items"]} == {near_id, far_id}
    assert client.get(f"/api/v1/cameras/{outside}", headers=headers).status_code == 404
    layer = client.get("/api/v1/cameras.geojson", headers=headers)
    assert layer.status_code == 200 and layer.mimetype == "application/geo+json"
    features = layer.get_json()["features"]
    assert {f["id"] for f in features} == {near_id, far_id}
    assert features[0]["geometry"]["type"] == "Point"


def test_risk_point_page_lists_cameras_nearby(client, world):
    """A risk point's page lists the cameras within 300 m, nearest first, with their links."""
    admin = world["admin@county"]
    make_camera(admin, 1, lon=118.0105, lat=37.32, name="市场东门")
    make_camera(admin, 2, lon=118.04, lat=37.32, name="远处路口")
    code = make_point(world["grid_worker@village"]).code
    page = client.get(f"/risk-points/{code}", headers=bearer(world["official@town"]))
    assert page.status_code == 200
    nearby = page.get_data(as_text=True).split('id="cameras-h"')[1]
    assert "市场东门" in nearby and "远处路口" not in nearby
    assert 'href="https://video.example.gov.cn/play?id=1"' in nearby


def test_maps_offer_the_camera_layer(client, world):
    """The risk map and 我的网格 load the camera overlay for those who may read cameras."""
    official = client.get("/map", headers=bearer(world["official@county"])).get_data(as_text=True)
    assert 'data-map="risk"' in official and "js/cameras.js" in official
    grid = client.get("/field", headers=bearer(world["grid_worker@village"]))
    assert 'data-map="grid"' in grid.get_data(as_text=True)
