"""Risk categories: seeded from shared/DOMAIN.md §5, read by all staff, kept by admins."""

from __future__ import annotations

from sqlalchemy import select

from app.audit.models import AuditEntry
from app.extensions import db
from tests.factories import bearer
from tests.risks.factories import make_point
from tests.risks.factories import register

SEEDED = ["欠薪", "四乱", "重点人群", "安全生产", "消防", "防汛/地质灾害", "道路交通", "房屋安全",
          "食品药品", "涉稳"]  # fmt: skip


def test_seeded_categories_are_listed_for_all_staff(client, world):
    """Every role reads the ten categories in order; 重点人群 is the restricted one."""
    for key in ("grid_worker@village", "official@county", "admin@village"):
        body = client.get("/api/v1/risk-categories", headers=bearer(world[key])).get_json()
        assert [c["name"] for c in body] == SEEDED
    restricted = [c["name"] for c in body if c["restricted"]]
    assert restricted == ["重点人群"]


def test_admins_add_rename_and_retire_categories(client, world):
    """POST adds (409 for a taken name); PUT changes; an inactive category takes no new points."""
    admin = bearer(world["admin@county"])
    made = client.post(
        "/api/v1/risk-categories",
        json={"name": "燃气", "subcategories": ["瓶装液化气", "管道燃气"]},
        headers=admin,
    )
    assert made.status_code == 201, made.get_json()
    category = made.get_json()
    assert (
        client.post("/api/v1/risk-categories", json={"name": "燃气"}, headers=admin).status_code
        == 409
    )
    dup = client.post(
        "/api/v1/risk-categories", json={"name": "x", "subcategories": ["a", "a"]}, headers=admin
    )
    assert dup.status_code == 422

    ok = register(client, world["mediator@village"], category="燃气", subcategory="管道燃气")
    assert ok.status_code == 201, ok.get_json()
    taken = client.put(
        f"/api/v1/risk-categories/{category['id']}",
        json={"name": "消防", "version": 1},
        headers=admin,
    )
    assert taken.status_code == 409
    flip = client.put(
        f"/api/v1/risk-categories/{category['id']}",
        json={"restricted": True, "version": 1},
        headers=admin,
    )
    assert flip.status_code == 409  # points exist under the other rule
    retired = client.put(
        f"/api/v1/risk-categories/{category['id']}",
        json={"active": False, "version": 1},
        headers=admin,
    )
    assert retired.status_code == 200 and retired.get_json()["active"] is False
    refused = register(client, world["mediator@village"], category="燃气", subcategory="管道燃气")
    assert refused.status_code == 422 and "category" in refused.get_json()["errors"]["json"]
    assert (
        client.put(
            "/api/v1/risk-categories/999999", json={"active": True, "version": 1}, headers=admin
        ).status_code
        == 404
    )

    actions = db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.action.like("risks.category%"))
    ).all()
    assert actions == ["risks.category_create", "risks.category_update"]


def test_field_staff_cannot_change_categories(client, world):
    """POST and PUT are for admins (risks.manage)."""
    headers = bearer(world["official@county"])
    assert (
        client.post("/api/v1/risk-categories", json={"name": "新类"}, headers=headers).status_code
        == 403
    )
    assert (
        client.put("/api/v1/risk-categories/1", json={"active": False}, headers=headers).status_code
        == 403
    )
    make_point(world["mediator@village"])  # the seeded ones still work
