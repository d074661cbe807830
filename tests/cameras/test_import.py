"""The camera ledger import (xlsx): dry run lists problems by row and column, apply, re-import."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy import select

from app.audit.models import AuditEntry
from app.cameras import services
from app.cameras.models import Camera
from app.core.errors import Invalid
from app.extensions import db
from app.scoping import scope_for
from tests.cameras.factories import device_code
from tests.cameras.factories import ledger
from tests.cases.factories import case_body
from tests.factories import bearer

GOOD = [
    [device_code(1), "东村路口", 118.01, 37.32, 90, "在线", "县公安局", "https://v.example.cn/1"],
    [device_code(2), "东村小学 ", "118.04", "37.32", None, "故障", None, None],
]


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(Camera))


def test_dry_run_then_apply_then_idempotent_reimport(world):
    """A dry run writes nothing; apply writes; the same file again changes nothing."""
    admin = world["admin@county"]
    scope = scope_for(admin)
    bad = ledger(
        [
            *GOOD,
            ["37169901001185000009", "录像机", 118.01, 37.32, None, "在线", None, None],
            [device_code(1), "重复", 118.01, 37.32, None, "在线", None, None],
            [device_code(4), "界外", 118.32, 37.32, 400, "在线", None, "ftp://x"],
        ]
    )
    report = services.import_file(bad, scope, admin, apply=False)
    problems = {(p["row"], p["column"].split("（")[0]) for p in report["problems"]}
    assert problems == {(4, "A"), (5, "A"), (6, "E"), (6, "H")}
    assert report["new"] == 2 and count() == 0
    try:
        services.import_file(ledger(GOOD + [GOOD[0]]), scope, admin, apply=True)
    except Invalid as exc:
        assert exc.errors["problems"][0]["row"] == 4
    else:
        raise AssertionError("a file with problems was applied")
    db.session.rollback()
    assert count() == 0

    report = services.import_file(ledger(GOOD), scope, admin, apply=True)
    db.session.commit()
    assert report["applied"] and report["new"] == 2 and count() == 2
    school = db.session.scalar(select(Camera).where(Camera.device_code == device_code(2)))
    assert school.name == "东村小学" and school.status == "fault"
    assert school.region_code == "371699101200002"

    again = services.import_file(ledger(GOOD), scope, admin, apply=True)
    db.session.commit()
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, 2)
    renamed = [[device_code(2), "东村小学东门", 118.04, 37.32]]
    header = ["设备编码", "名称", "经度", "纬度"]
    changed = services.import_file(ledger(renamed, header), scope, admin, apply=True)
    db.session.commit()
    assert changed["updated"] == 1 and count() == 2
    school = db.session.get(Camera, school.id)
    assert school.name == "东村小学东门" and school.status == "fault"  # no status column: kept
    imports = db.session.scalar(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "cameras.import")
    )
    assert imports == 3


def test_import_page_dry_run_and_apply(client, world):
    """The admin page shows the problems of a dry run and applies a clean file."""
    headers = bearer(world["admin@county"])
    page = client.get("/admin/cameras", headers=headers)
    assert page.status_code == 200
    dry = client.post(
        "/admin/cameras/import",
        data={"mode": "dry_run", "file": (ledger(GOOD + [GOOD[0]]), "cameras.xlsx")},
        headers=headers,
    )
    assert dry.status_code == 200
    text = dry.get_data(as_text=True)
    assert "第 4 行" in text or ">4<" in text
    assert count() == 0
    applied = client.post(
        "/admin/cameras/import",
        data={"mode": "apply", "file": (ledger(GOOD), "cameras.xlsx")},
        headers=headers,
    )
    assert applied.status_code == 302
    assert count() == 2


def test_a_video_case_names_its_camera(client, world):
    """A 视频监控 case names a camera in scope; another source, or a camera elsewhere, is 422."""
    admin = world["admin@county"]
    services.import_file(ledger(GOOD), scope_for(admin), admin, apply=True)
    outsider = world["outsider-admin"]
    services.import_file(
        ledger([[device_code(9), "邻县", 118.32, 37.32]], ["设备编码", "名称", "经度", "纬度"]),
        scope_for(outsider),
        outsider,
        apply=True,
    )
    db.session.commit()
    headers = bearer(world["grid_worker@village"])
    body = {**case_body(kind="incident"), "source": "video", "camera_code": device_code(1)}
    created = client.post("/api/v1/cases", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["camera"]["device_code"] == device_code(1)
    number = created.get_json()["number"]
    camera_id = created.get_json()["camera"]["id"]
    shown = client.get(f"/api/v1/cases/{number}", headers=headers).get_json()
    assert shown["camera"]["id"] == camera_id
    wrong_source = client.post("/api/v1/cases", json={**body, "source": "phone"}, headers=headers)
    assert wrong_source.status_code == 422
    assert "camera_code" in wrong_source.get_json()["errors"]["json"]
    elsewhere = client.post(
        "/api/v1/cases", json={**body, "camera_code": device_code(9)}, headers=headers
    )
    assert elsewhere.status_code == 422
    assert "camera_code" in elsewhere.get_json()["errors"]["json"]
    page = client.get(f"/cases/{number}", headers=headers).get_data(as_text=True)
    nearby = page.split('id="cameras-h"')[1]
    assert device_code(1) in nearby and device_code(2) not in nearby  # 2.6 km away
