"""Detail tiles: identical bytes on every request, the plain statement's bytes, dense ones
clustered under the size cap with counts that add up to the plain count."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.extensions import db
from app.scoping import scope_for
from app.tiles import services
from tests.factories import bearer
from tests.tiles.mvt import decode
from tests.tiles.test_tiles import IN_CELL2
from tests.tiles.test_tiles import features
from tests.tiles.test_tiles import tile_of
from tests.tiles.test_tiles import url

DENSE = 3000
TILE = tile_of(**IN_CELL2, z=12)
# The detail statement as it was: one flattened subquery, the tile geometry in its WHERE.
PLAIN_DETAIL_SQL = """
WITH {bounds}
SELECT (SELECT ST_AsMVT(t, 'cases', 4096, 'geom', 'id' ORDER BY t.id)
          FROM (SELECT c.id, c.number, c.kind, c.category, c.state, c.level, c.warning,
                       c.supervision, c.location_approximate,
                       to_char(c.reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')
                           AS reported_on,
                       c.region_code AS grid_cell,
                       ST_AsMVTGeom(ST_Transform(c.location, 3857), bounds.env, 4096, 64, true)
                           AS geom
                  FROM cases c, bounds
                 WHERE c.location && bounds.sel AND {visibility}) t
         WHERE t.geom IS NOT NULL) AS tile
"""


@pytest.fixture
def dense(cases_in_tile):
    """DENSE more cases copied from one, on a 60 × 50 lattice 5 m apart inside cell 002."""
    db.session.execute(
        text(
            """
            INSERT INTO cases (number, kind, category, source, title, description, reported_at,
                               reporter_id, location, grid_cell_id, village_id, town_id,
                               county_id, region_code, origin_level, level, max_level, state)
            SELECT number || '-' || g, (ARRAY['dispute', 'petition', 'incident'])[1 + g % 3],
                   category, source, title, description, reported_at + g * interval '1 hour',
                   reporter_id,
                   ST_SetSRID(ST_MakePoint(118.04 + (g % 60) * 0.00005,
                                           37.32 + (g / 60) * 0.00005), 4326),
                   grid_cell_id, village_id, town_id, county_id, region_code, origin_level,
                   level, max_level, state
              FROM cases, generate_series(1, :n) g
             WHERE number = :number
            """
        ),
        {"n": DENSE, "number": cases_in_tile["cell2"]},
    )
    db.session.flush()


def plain_tile(user) -> bytes:
    """The tile by the old, flattened statement (its features in id order, as every tile's)."""
    visibility, params = scope_for(db.session.merge(user)).sql(
        "c", cell="grid_cell_id", own=services.CASE_OWNERS
    )
    bounds = services.BOUNDS_CTE.format(sel=services.SEL_WGS84)
    z, x, y = TILE
    sql = PLAIN_DETAIL_SQL.format(bounds=bounds, visibility=visibility)
    params |= {"z": z, "x": x, "y": y, "margin": services.MARGIN}
    return bytes(db.session.execute(text(sql), params).scalar_one())


def test_a_dense_tile_is_the_same_bytes_every_time_and_clusters_past_the_cap(
    app, client, world, dense
):
    """Built afresh three times: the same bytes, the plain statement's. Past the cap: clusters
    whose counts add up to the plain count of the cases inside the tile, per kind too."""
    user = world["official@county"]
    fresh = {**bearer(user), "Cache-Control": "no-cache"}
    bodies = {client.get(url("cases", TILE), headers=fresh).get_data() for _ in range(3)}
    assert len(bodies) == 1
    (body,) = bodies
    assert body == plain_tile(user)
    assert len(decode(body)["cases"]) == DENSE + 2

    z, x, y = TILE
    plain = dict(
        db.session.execute(
            text(
                """
                SELECT kind, count(*) FROM cases
                 WHERE ST_Intersects(ST_Transform(location, 3857), ST_TileEnvelope(:z, :x, :y))
                   AND region_code LIKE '371699%'
                 GROUP BY kind
                """
            ),
            {"z": z, "x": x, "y": y},
        ).all()
    )
    app.config["TILE_CLUSTER_CASES"] = 1000
    try:
        answers = [client.get(url("cases", TILE), headers=fresh) for _ in range(2)]
        village = client.get(url("cases", TILE), headers=bearer(world["mediator@village"]))
    finally:
        app.config["TILE_CLUSTER_CASES"] = services.CLUSTER_CASES
    assert answers[0].get_data() == answers[1].get_data()
    clusters = features(answers[0])
    assert len(answers[0].get_data()) < len(body) / 100
    assert all(f["type"] == 1 and "number" not in f["properties"] for f in clusters)
    for kind in ("dispute", "petition", "incident"):
        assert sum(f["properties"][kind] for f in clusters) == plain.get(kind, 0)
    assert sum(f["properties"]["count"] for f in clusters) == sum(plain.values())
    # A village mediator's clusters count only their village (the scope of single cases).
    assert sum(f["properties"]["count"] for f in features(village)) == DENSE + 1
