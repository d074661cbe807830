"""Departments (职能部门) and routing rules: API, jurisdiction, staff, admin pages, the demo."""

import pytest
from sqlalchemy import func
from sqlalchemy import select

from app.accounts.models import User
from app.audit.models import AuditEntry
from app.dispatch.department_schemas import CASE_CATEGORIES
from app.dispatch.models import Department
from app.dispatch.models import RoutingRule
from app.extensions import db
from tests.accounts.helpers import csrf_from
from tests.accounts.helpers import login
from tests.factories import OTHER_COUNTY
from tests.factories import bearer
from tests.factories import make_department
from tests.geo.factories import COUNTY
from tests.geo.factories import TOWN
from tests.geo.factories import TOWN_B
from tests.geo.factories import VILLAGE


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


def unit_body(**change) -> dict:
    """A new town police station, with any field changed."""
    return {
        "code": "town-police",
        "name": "甲镇派出所",
        "kind": "police",
        "region": TOWN,
        "categories": ["治安", "交通"],
        "phone": "0543-1234567",
        **change,
    }


def count(model) -> int:
    """Rows of a table."""
    return db.session.scalar(select(func.count()).select_from(model))


def test_admin_creates_lists_updates_and_deactivates_a_unit(client, world):
    """201 with its ETag; listed in scope; PATCH needs the version (428, 409); never deleted."""
    admin = bearer(world["admin@town"])
    created = client.post("/api/v1/departments", json=unit_body(), headers=admin)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["region"]["code"] == TOWN and body["categories"] == ["治安", "交通"]
    assert created.headers["ETag"] == '"1"'
    unit_id = body["id"]
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "departments.create"))
    assert entry.object_id == str(unit_id)

    listed = client.get("/api/v1/departments?category=治安", headers=admin).get_json()
    assert [d["code"] for d in listed] == ["town-police"]
    # A village mediator sees the units of the town above them; the other county never does.
    village = client.get("/api/v1/departments", headers=bearer(world["mediator@village"]))
    assert {d["code"] for d in village.get_json()} == {"town-police", "town-labour"}
    outsider = client.get("/api/v1/departments", headers=bearer(world["outsider-admin"]))
    assert outsider.get_json() == []
    assert (
        client.get(
            f"/api/v1/departments/{unit_id}", headers=bearer(world["outsider-admin"])
        ).status_code
        == 404
    )

    path = f"/api/v1/departments/{unit_id}"
    assert client.patch(path, json={"name": "改名"}, headers=admin).status_code == 428
    stale = client.patch(path, json={"name": "改名", "version": 7}, headers=admin)
    assert stale.status_code == 409 and stale.get_json()["errors"]["version"]["current"] == 1
    renamed = client.patch(
        path, json={"name": "甲镇派出所（新）"}, headers={**admin, "If-Match": '"1"'}
    )
    assert renamed.status_code == 200 and renamed.headers["ETag"] == '"2"'
    # A village admin reads the town's unit but may not keep it.
    village_admin = bearer(world["admin@village"])
    assert (
        client.patch(path, json={"active": False, "version": 2}, headers=village_admin).status_code
        == 403
    )
    off = client.patch(path, json={"active": False, "version": 2}, headers=admin)
    assert off.status_code == 200 and off.get_json()["active"] is False
    assert db.session.get(Department, unit_id).active is False
    active = client.get("/api/v1/departments?active=true", headers=admin).get_json()
    assert "town-police" not in {d["code"] for d in active}


def test_bad_unit_is_refused_naming_the_field_and_nothing_written(client, world):
    """Code format and uniqueness, kind, categories, region level and jurisdiction: 422."""
    admin = bearer(world["admin@town"])
    before = count(Department)
    cases = [
        ({"code": "坏 代码"}, "code"),
        ({"code": "town-labour"}, "code"),
        ({"kind": "army"}, "kind"),
        ({"categories": ["劳资", "打架"]}, "categories"),
        ({"region": VILLAGE}, "region"),
        ({"region": TOWN_B}, "region"),  # another town: not this admin's
        ({"region": OTHER_COUNTY}, "region"),
        ({"phone": "123"}, "phone"),
    ]
    for change, field in cases:
        response = client.post("/api/v1/departments", json=unit_body(**change), headers=admin)
        assert response.status_code == 422, (change, response.get_json())
        assert field in response.get_json()["errors"]["json"], (change, response.get_json())
    assert count(Department) == before


def test_routing_table_is_replaced_whole_and_checked(client, world):
    """PUT replaces a region's rules; a unit elsewhere or not competent is refused by line."""
    admin = bearer(world["admin@county"])
    client.post(
        "/api/v1/departments",
        json=unit_body(
            code="county-labour",
            name="劳动监察大队",
            kind="labour",
            region=COUNTY,
            categories=["劳资"],
        ),
        headers=admin,
    )
    town = {"region": TOWN, "rules": [{"category": "劳资", "department": "town-labour"}]}
    # The factory's unit lists "劳资纠纷", not the case category "劳资": make it competent first.
    unit_id = world.department_ids["town-labour"]
    refused = client.put("/api/v1/routing-rules", json=town, headers=admin)
    assert refused.status_code == 422
    assert "department" in refused.get_json()["errors"]["json"]["rules"]["0"]
    assert count(RoutingRule) == 0
    client.patch(
        f"/api/v1/departments/{unit_id}",
        json={"categories": ["劳资"], "version": 1},
        headers=admin,
    )
    saved = client.put("/api/v1/routing-rules", json=town, headers=admin)
    assert saved.status_code == 200, saved.get_json()
    assert [(r["category"], r["department"]["code"]) for r in saved.get_json()] == [
        ("劳资", "town-labour")
    ]
    elsewhere = {"region": TOWN, "rules": [{"category": "劳资", "department": "county-labour"}]}
    wrong = client.put("/api/v1/routing-rules", json=elsewhere, headers=admin)
    assert wrong.status_code == 422 and "本区划" in str(wrong.get_json())
    town_admin = bearer(world["admin@town"])
    county_rules = {
        "region": COUNTY,
        "rules": [{"category": "劳资", "department": "county-labour"}],
    }
    assert (
        client.put("/api/v1/routing-rules", json=county_rules, headers=town_admin).status_code
        == 422
    )
    assert client.put("/api/v1/routing-rules", json=county_rules, headers=admin).status_code == 200
    # The village mediator reads the rules of the town and county above; staff read none.
    rules = client.get("/api/v1/routing-rules", headers=bearer(world["mediator@village"]))
    assert [(r["region"]["code"], r["category"]) for r in rules.get_json()] == [
        (COUNTY, "劳资"),
        (TOWN, "劳资"),
    ]
    assert (
        client.get(
            "/api/v1/routing-rules", headers=bearer(world["department_staff@town"])
        ).get_json()
        == []
    )
    # Emptying the table removes the rules; deactivating a unit removes its own.
    assert (
        client.put(
            "/api/v1/routing-rules", json={"region": TOWN, "rules": []}, headers=admin
        ).get_json()
        == []
    )
    county_unit = db.session.scalar(select(Department.id).where(Department.code == "county-labour"))
    client.patch(
        f"/api/v1/departments/{county_unit}", json={"active": False, "version": 1}, headers=admin
    )
    assert count(RoutingRule) == 0


def test_staff_read_only_their_own_unit(client, world):
    """Department staff list and read their unit, and no other (404)."""
    other = make_department("town-justice", TOWN, kind="justice", categories=("邻里",))
    staff = bearer(world["department_staff@town"])
    listed = client.get("/api/v1/departments", headers=staff).get_json()
    assert [d["code"] for d in listed] == ["town-labour"]
    assert client.get(f"/api/v1/departments/{other.id}", headers=staff).status_code == 404
    me = client.get("/api/v1/me", headers=staff).get_json()
    assert me["department"] == {
        "id": world.department_ids["town-labour"],
        "code": "town-labour",
        "name": "甲镇人社所",
    }


def test_department_staff_are_made_by_api_and_cli(client, runner, world):
    """The unit is required for staff and refused for other roles, in the API and the CLI."""
    admin = bearer(world["admin@county"])
    body = {
        "username": "new-staff",
        "password": "a-strong-password",
        "role": "department_staff",
        "region": TOWN,
    }
    missing = client.post("/api/v1/users", json=body, headers=admin)
    assert missing.status_code == 422 and "department" in missing.get_json()["errors"]["json"]
    other_role = client.post(
        "/api/v1/users",
        json={**body, "role": "mediator", "department": "town-labour"},
        headers=admin,
    )
    assert other_role.status_code == 422 and "department" in other_role.get_json()["errors"]["json"]
    made = client.post("/api/v1/users", json={**body, "department": "town-labour"}, headers=admin)
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["department"]["code"] == "town-labour"

    args = ["users", "create", "cli-staff", "--role", "department_staff", "--region", TOWN]
    refused = runner.invoke(args=args, input="a-cli-password\n")
    assert refused.exit_code == 1 and "须指定所属职能部门" in refused.output
    result = runner.invoke(args=[*args, "--department", "town-labour"], input="a-cli-password\n")
    assert result.exit_code == 0, result.output
    assert "甲镇人社所" in result.output
    user = db.session.scalar(select(User).where(User.username == "cli-staff"))
    assert user.department_id == world.department_ids["town-labour"]


def test_admin_pages_create_edit_and_route(client, world):
    """The pages add a unit, refuse a bad one as typed, edit it with the version, and set the
    routing table; a staff account is made with its unit from the users page."""
    assert login(client, world["admin@town"].username).status_code == 302
    page = client.get("/admin/departments").get_data(as_text=True)
    assert "甲镇人社所" in page and 'href="/admin/departments"' in page  # the header link
    token = csrf_from(page)
    form = {
        "csrf_token": token,
        "name": "甲镇司法所",
        "code": "town-justice",
        "kind": "justice",
        "region": TOWN,
        "categories": ["邻里", "婚姻家庭"],
    }
    bad = client.post("/admin/departments", data={**form, "code": "坏 代码"})
    assert bad.status_code == 422
    assert 'value="坏 代码"' in bad.get_data(as_text=True)
    assert count(Department) == 1
    made = client.post("/admin/departments", data=form)
    assert made.status_code == 302, made.get_data(as_text=True)
    unit = db.session.scalar(select(Department).where(Department.code == "town-justice"))
    assert unit.categories == ["婚姻家庭", "邻里"] and unit.region_code == TOWN
    unit_id = unit.id

    edit = {"csrf_token": token, "name": "甲镇司法所", "kind": "justice", "active": "true"}
    stale = client.post(
        f"/admin/departments/{unit_id}", data={**edit, "version": "9", "categories": ["邻里"]}
    )
    assert stale.status_code == 409
    saved = client.post(
        f"/admin/departments/{unit_id}", data={**edit, "version": "1", "categories": ["邻里"]}
    )
    assert saved.status_code == 302
    assert db.session.get(Department, unit_id).categories == ["邻里"]

    routing = client.get(f"/admin/routing?region={TOWN}").get_data(as_text=True)
    index = routing.index("邻里")
    assert "甲镇司法所" in routing[index:]
    position = CASE_CATEGORIES.index("邻里")
    done = client.post(
        "/admin/routing",
        data={"csrf_token": token, "region": TOWN, f"rule-{position}": "town-justice"},
    )
    assert done.status_code == 302
    rule = db.session.scalar(select(RoutingRule))
    assert (rule.category, rule.department_id) == ("邻里", unit_id)

    staff = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "page-staff",
            "password": "a-strong-password",
            "role": "department_staff",
            "region": VILLAGE,  # the unit's region is taken instead
            "department": "town-justice",
        },
    )
    assert staff.status_code == 302, staff.get_data(as_text=True)
    user = db.session.scalar(select(User).where(User.username == "page-staff"))
    assert (user.department_id, user.region.code) == (unit_id, TOWN)
