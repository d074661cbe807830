"""`flask seed demo`: the demo county, idempotent, located everywhere."""

import random

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

    again = runner.invoke(args=["seed", "demo"])
    assert again.exit_code == 0, again.output
    assert "本次新生成 0 个" in again.output
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
    rng = random.Random(1)
    for lon, lat in rng.sample(points, 40):
        body = client.get(f"/api/v1/locate?lon={lon}&lat={lat}", headers=headers).get_json()
        assert body["village"]["code"].startswith("371699"), body
        assert body["grid_cell"]["code"].startswith(body["village"]["code"])
