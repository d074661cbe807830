"""`flask seed demo`: the demo county, idempotent, located everywhere."""

import random
import re

from sqlalchemy import text

from app.extensions import db


def test_seed_demo_builds_county_and_is_idempotent(runner, client):
    """One county, 6 towns, ~60 villages with two 新村, ~500 cells; a rerun adds nothing."""
    result = runner.invoke(args=["seed", "demo"])
    assert result.exit_code == 0, result.output
    counts = dict(
        db.session.execute(
            text(
                """
                SELECT 'town', count(*) FROM regions WHERE level = 'town'
                UNION ALL SELECT 'village', count(*) FROM regions
                           WHERE level = 'village' AND valid_to IS NULL
                UNION ALL SELECT 'abolished', count(*) FROM regions WHERE valid_to IS NOT NULL
                UNION ALL SELECT 'new', count(DISTINCT region_id) FROM region_predecessors
                UNION ALL SELECT 'cells', count(*) FROM grid_cells
                """
            )
        ).all()
    )
    assert counts["town"] == 6
    assert 55 <= counts["village"] <= 70
    assert counts["new"] == 2 and counts["abolished"] >= 4
    assert 400 <= counts["cells"] <= 600
    snapshot = db.session.execute(
        text("SELECT code, md5(ST_AsBinary(geom)) FROM grid_cells ORDER BY code")
    ).all()
    # 职能部门 (docs/departments.md): five units per town, eight at the county, every town and
    # the county routed; each demo staff account belongs to its unit.
    units = db.session.execute(
        text(
            """
            SELECT (SELECT count(*) FROM departments d JOIN regions r ON r.id = d.region_id
                     WHERE r.level = 'town') AS town_units,
                   (SELECT count(*) FROM departments d JOIN regions r ON r.id = d.region_id
                     WHERE r.level = 'county') AS county_units,
                   (SELECT count(DISTINCT region_id) FROM routing_rules) AS routed,
                   (SELECT d.name FROM routing_rules x JOIN departments d ON d.id = x.department_id
                      JOIN regions r ON r.id = x.region_id
                     WHERE r.code = '371699101000' AND x.category = '劳资') AS wages_town,
                   (SELECT d.name FROM routing_rules x JOIN departments d ON d.id = x.department_id
                      JOIN regions r ON r.id = x.region_id
                     WHERE r.level = 'county' AND x.category = '劳资') AS wages_county,
                   (SELECT d.code FROM users u JOIN departments d ON d.id = u.department_id
                     WHERE u.username = 'zhen_renshe') AS staff_unit
            """
        )
    ).one()
    assert (units.town_units, units.county_units, units.routed) == (30, 8, 7)
    assert (units.wages_town, units.wages_county) == ("黄河镇人社所", "示范县人社局劳动监察大队")
    assert units.staff_unit == "371699101-labour"
    # Every demo account has its own fake mobile number (the SMS sink's journeys need them).
    phones = db.session.execute(text("SELECT phone FROM users ORDER BY username")).scalars().all()
    assert len(phones) == 17 and len(set(phones)) == 17
    assert all(re.fullmatch(r"1380539\d{4}", p) for p in phones)
    rules = db.session.execute(
        text("SELECT region_id, category, department_id FROM routing_rules ORDER BY 1, 2")
    ).all()
    # The county's 市 and 省 (issue 17), without boundaries; the 市 official sits above it.
    lineage = db.session.execute(
        text(
            """
            SELECT c.code, p.code, p.level, g.code, g.level, p.boundary IS NULL
              FROM regions c JOIN regions p ON p.id = c.parent_id
              JOIN regions g ON g.id = p.parent_id
             WHERE c.code = '371699000000'
            """
        )
    ).one()
    assert tuple(lineage) == (
        "371699000000",
        "371600000000",
        "prefecture",
        "370000000000",
        "province",
        True,
    )
    assert (
        db.session.execute(
            text(
                "SELECT r.code FROM users u JOIN regions r ON r.id = u.region_id"
                " WHERE u.username = 'shi_ganbu'"
            )
        ).scalar()
        == "371600000000"
    )

    again = runner.invoke(args=["seed", "demo"])
    assert again.exit_code == 0, again.output
    assert "本次新生成 0 个" in again.output
    assert "新增职能部门 0 个" in again.output and "新建演示账号 0 个" in again.output
    assert (
        db.session.execute(
            text("SELECT region_id, category, department_id FROM routing_rules ORDER BY 1, 2")
        ).all()
        == rules
    )
    assert (
        db.session.execute(
            text("SELECT code, md5(ST_AsBinary(geom)) FROM grid_cells ORDER BY code")
        ).all()
        == snapshot
    )

    # Points all over the county resolve to a cell of a current village.
    county = db.session.execute(
        text("SELECT ST_AsText(boundary) FROM regions WHERE level = 'county'")
    ).scalar()
    points = db.session.execute(
        text("SELECT ST_X(geom), ST_Y(geom) FROM ST_Dump(ST_GeneratePoints(:g, 40, 7))"),
        {"g": county},
    ).all()
    token = runner.invoke(args=["users", "token", "create", "xian_ganbu"]).output.split()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    # The 市 official sees the county's measures and map as the county's own official does.
    shi = runner.invoke(args=["users", "token", "create", "shi_ganbu"]).output.split()[-1]
    shi = {"Authorization": f"Bearer {shi}"}
    mine, theirs = (client.get("/api/v1/metrics", headers=h).get_json() for h in (shi, headers))
    assert mine["region"]["level"] == "prefecture" and mine["measures"] == theirs["measures"]
    assert [i["code"] for i in mine["breakdown"]["items"]] == ["371699000000"]
    layers = [client.get("/api/v1/cases.geojson", headers=h).get_json() for h in (shi, headers)]
    assert layers[0]["features"] and layers[0] == layers[1]
    rng = random.Random(1)
    for lon, lat in rng.sample(points, 40):
        body = client.get(f"/api/v1/locate?lon={lon}&lat={lat}", headers=headers).get_json()
        assert body["village"]["code"].startswith("371699"), body
        assert body["grid_cell"]["code"].startswith(body["village"]["code"])
