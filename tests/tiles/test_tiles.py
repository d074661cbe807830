"""Vector tiles: the plain query's features, the caller's scope only, a cache that never lies."""

from __future__ import annotations

import math

import pytest
from sqlalchemy import text

from app.extensions import db
from app.scoping import scope_for
from app.tiles import services
from tests.cases.factories import case_body
from tests.factories import bearer
from tests.geo.factories import VILLAGE
from tests.geo.factories import VILLAGE_B
from tests.tiles.mvt import decode


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


IN_CELL2 = {"lon": 118.04, "lat": 37.32}  # 东村 cell 002, tile z12 x=3391
IN_VILLAGE_B = {"lon": 118.06, "lat": 37.32}  # 西村, the same z12 tile
IN_CELL1 = {"lon": 118.01, "lat": 37.32}  # 东村 cell 001, the tile to the west
OTHER_COUNTY = {"lon": 118.32, "lat": 37.32}


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    """The XYZ tile containing a WGS84 point."""
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def url(layer: str, tile: tuple[int, int, int], query: str = "") -> str:
    """The tile endpoint's path."""
    z, x, y = tile
    return f"/api/v1/tiles/{layer}/{z}/{x}/{y}.pbf" + (f"?{query}" if query else "")


def report_at(client, user, point: dict, kind: str = "dispute") -> str:
    """Report a case at a point through the API; its number."""
    response = client.post("/api/v1/cases", json=case_body(kind, **point), headers=bearer(user))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["number"]


def features(response, layer: str = "cases") -> list[dict]:
    """The decoded features of a tile answer."""
    assert response.status_code == 200, response.get_data()
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    return decode(response.get_data()).get(layer, [])


def plain_case_ids(tile: tuple[int, int, int], user) -> set[int]:
    """The cases the caller may see inside the tile (with its buffer), by a plain query."""
    scope = scope_for(db.session.merge(user))
    condition, params = scope.sql("c", cell="grid_cell_id", own=("reporter_id",))
    z, x, y = tile
    rows = db.session.execute(
        text(
            f"""
            SELECT c.id FROM cases c
             WHERE ST_Intersects(c.location, ST_Transform(
                       ST_TileEnvelope(:z, :x, :y, margin => :m), 4326))
               AND {condition}
            """
        ),
        {"z": z, "x": x, "y": y, "m": services.MARGIN, **params},
    )
    return {row.id for row in rows}


@pytest.fixture
def cases_in_tile(client, world):
    """Cases in one z12 tile in two villages, one beside it, one in the other county."""
    numbers = {
        "cell2": report_at(client, world["mediator@village"], IN_CELL2),
        "village_b": report_at(client, world["mediator@town"], IN_VILLAGE_B, "incident"),
        "cell1": report_at(client, world["mediator@village"], IN_CELL1),
        "other": report_at(client, world["outsider"], OTHER_COUNTY),
    }
    return numbers


def test_case_tile_equals_the_plain_query(client, world, cases_in_tile):
    """A county official's tile holds exactly the plain query's cases, with their properties."""
    user = world["official@county"]
    tile = tile_of(**IN_CELL2, z=12)
    got = features(client.get(url("cases", tile), headers=bearer(user)))
    assert {f["id"] for f in got} == plain_case_ids(tile, user)
    assert len(got) == 2
    rows = {
        r.id: r
        for r in db.session.execute(
            text("SELECT id, number, kind, state, level, region_code FROM cases")
        )
    }
    for feature in got:
        row = rows[feature["id"]]
        props = feature["properties"]
        assert (props["number"], props["kind"], props["state"], props["level"]) == (
            row.number,
            row.kind,
            row.state,
            row.level,
        )
        assert props["grid_cell"] == row.region_code
        assert feature["type"] == 1  # POINT
        assert "title" not in props and "description" not in props


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("official@county", {"cell2", "village_b"}),
        ("mediator@town", {"cell2", "village_b"}),
        ("mediator@village", {"cell2"}),
        ("grid_worker@village", set()),
    ],
)
def test_case_tile_is_scoped(client, world, cases_in_tile, caller, expected):
    """A tile holds only the caller's jurisdiction: a village user sees only their village."""
    user = world[caller]
    tile = tile_of(**IN_CELL2, z=12)
    got = features(client.get(url("cases", tile), headers=bearer(user)))
    numbers = {f["properties"]["number"] for f in got}
    assert numbers == {cases_in_tile[key] for key in expected}
    assert {f["id"] for f in got} == plain_case_ids(tile, user)


def test_grid_worker_tile_has_own_cells_and_own_reports(client, world, cases_in_tile):
    """A grid worker sees cases in their cells and the ones they reported, nothing else."""
    headers = bearer(world["grid_worker@village"])
    # Cell 002 is not theirs, but they reported this case themselves.
    own = report_at(client, world["grid_worker@village"], IN_CELL2)
    tile = tile_of(**IN_CELL2, z=12)
    got = features(client.get(url("cases", tile), headers=headers))
    assert {f["properties"]["number"] for f in got} == {own}
    west = features(client.get(url("cases", tile_of(**IN_CELL1, z=12)), headers=headers))
    assert {f["properties"]["number"] for f in west} == {cases_in_tile["cell1"]}


def test_filters_apply_to_tiles(client, world, cases_in_tile):
    """kind= and open= narrow the tile like the plain query."""
    headers = bearer(world["official@county"])
    tile = tile_of(**IN_CELL2, z=12)
    incidents = features(client.get(url("cases", tile, "kind=incident"), headers=headers))
    assert {f["properties"]["number"] for f in incidents} == {cases_in_tile["village_b"]}
    assert len(features(client.get(url("cases", tile, "open=true"), headers=headers))) == 2
    bad = client.get(url("cases", tile, "kind=nonsense"), headers=headers)
    assert bad.status_code == 400


def test_new_case_appears_in_the_next_tile_request(client, world, cases_in_tile):
    """The cache never serves a tile older than the data: a new case shows at once."""
    headers = bearer(world["official@county"])
    tile = tile_of(**IN_CELL2, z=12)
    first = client.get(url("cases", tile), headers=headers)
    assert first.headers["X-Tile-Cache"] == "miss"
    etag = first.headers["ETag"]
    again = client.get(url("cases", tile), headers=headers)
    assert again.headers["X-Tile-Cache"] == "hit" and again.get_data() == first.get_data()
    unchanged = client.get(url("cases", tile), headers={**headers, "If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.headers["ETag"] == etag
    assert unchanged.get_data() == b""

    number = report_at(client, world["mediator@town"], IN_VILLAGE_B, "petition")
    after = client.get(url("cases", tile), headers={**headers, "If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    assert number in {f["properties"]["number"] for f in features(after)}


def test_a_workflow_action_invalidates_the_tile(client, world, cases_in_tile):
    """A state change (accept) shows in the next tile, not the cached one."""
    from tests.cases.factories import act

    headers = bearer(world["official@county"])
    tile = tile_of(**IN_CELL2, z=12)
    before = features(client.get(url("cases", tile), headers=headers))
    states = {f["properties"]["number"]: f["properties"]["state"] for f in before}
    assert states[cases_in_tile["cell2"]] == "reported"
    response = act(client, world["mediator@village"], cases_in_tile["cell2"], "accept")
    assert response.status_code == 200, response.get_json()
    after = features(client.get(url("cases", tile), headers=headers))
    states = {f["properties"]["number"]: f["properties"]["state"] for f in after}
    assert states[cases_in_tile["cell2"]] == "accepted"


def test_tiles_of_different_scopes_never_share_a_cache_entry(client, world, cases_in_tile):
    """A town user's cached tile is not served to a village user, nor the reverse."""
    tile = tile_of(**IN_CELL2, z=12)
    town = client.get(url("cases", tile), headers=bearer(world["mediator@town"]))
    village = client.get(url("cases", tile), headers=bearer(world["mediator@village"]))
    assert town.headers["ETag"] != village.headers["ETag"]
    assert len(features(town)) == 2 and len(features(village)) == 1
    # The same jurisdiction shares the entry: a second village user hits the cache.
    official = client.get(url("cases", tile), headers=bearer(world["official@village"]))
    assert official.headers["X-Tile-Cache"] == "hit"


def plain_village_counts(tile, user, kind=None, open_only=False) -> dict[str, int]:
    """Per-village COUNT(*) of visible cases whose village anchor lies in the tile's buffer."""
    scope = scope_for(db.session.merge(user))
    condition, params = scope.sql("c", cell="grid_cell_id", own=("reporter_id",))
    z, x, y = tile
    rows = db.session.execute(
        text(
            f"""
            SELECT a.code, count(*) AS n
              FROM cases c JOIN region_anchors a ON a.code = left(c.region_code, 12)
             WHERE ST_Intersects(a.geom, ST_TileEnvelope(:z, :x, :y, margin => :m))
               AND {condition}
               AND (CAST(:kind AS text) IS NULL OR c.kind = :kind)
               AND (NOT :open OR c.state IN ('reported', 'accepted', 'in_progress'))
             GROUP BY a.code
            """
        ),
        {"z": z, "x": x, "y": y, "m": services.MARGIN, "kind": kind, "open": open_only, **params},
    )
    return {row.code: row.n for row in rows}


@pytest.mark.parametrize("z", [8, 10, 11])
@pytest.mark.parametrize(
    ("query", "kind", "open_only"),
    [("", None, False), ("kind=dispute", "dispute", False), ("open=true", None, True)],
)
def test_low_zoom_tiles_count_like_a_plain_count(
    client, world, cases_in_tile, z, query, kind, open_only
):
    """Aggregated tiles: one point per village whose counts equal a plain COUNT(*)."""
    from tests.cases.factories import act

    act(client, world["mediator@village"], cases_in_tile["cell1"], "reject", {"reason": "不属实"})
    report_at(client, world["mediator@town"], IN_VILLAGE_B, "petition")
    report_at(client, world["grid_worker@village"], IN_CELL1)
    for caller in ("official@county", "mediator@village", "grid_worker@village"):
        tile = tile_of(**IN_CELL2, z=z)
        got = features(client.get(url("cases", tile, query), headers=bearer(world[caller])))
        counts = {f["properties"]["village"]: f["properties"]["count"] for f in got}
        assert counts == plain_village_counts(tile, world[caller], kind, open_only), caller
        assert counts, caller
        for f in got:
            p = f["properties"]
            assert p["dispute"] + p["petition"] + p["incident"] == p["count"]


def test_low_zoom_facts_equal_live_counts(client, world, cases_in_tile):
    """The pre-aggregated village counts give the very tile the live GROUP BY gives."""
    user = world["official@county"]
    for z in (8, 11):
        req = services.TileRequest("cases", *tile_of(**IN_CELL2, z=z), scope_for(user), user.role)
        assert decode(services.render(req)[1]) == decode(services.render(req, True)[1])


def test_grid_cell_tile_equals_the_plain_query(client, world):
    """Grid cells of the caller's subtree in the tile, by code; none below zoom 10."""
    headers = bearer(world["mediator@village"])
    tile = tile_of(**IN_CELL2, z=12)
    got = features(client.get(url("grid_cells", tile), headers=headers), "grid_cells")
    z, x, y = tile
    plain = db.session.scalars(
        text(
            """
            SELECT code FROM grid_cells
             WHERE ST_Intersects(geom, ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => :m),
                                                    4326))
               AND code LIKE :prefix || '%'
            """
        ),
        {"z": z, "x": x, "y": y, "m": services.MARGIN, "prefix": VILLAGE},
    ).all()
    assert sorted(f["properties"]["code"] for f in got) == sorted(plain)
    assert all(not f["properties"]["code"].startswith(VILLAGE_B) for f in got)
    low = client.get(url("grid_cells", tile_of(**IN_CELL2, z=9)), headers=headers)
    assert low.status_code == 200 and low.get_data() == b""


def test_bad_tiles_and_layers(client, world):
    """Unknown layers and tile numbers out of range are 404; signed out is 401."""
    headers = bearer(world["official@county"])
    assert client.get("/api/v1/tiles/people/12/3391/1586.pbf", headers=headers).status_code == 404
    assert client.get("/api/v1/tiles/cases/12/4096/1.pbf", headers=headers).status_code == 404
    assert client.get("/api/v1/tiles/cases/23/0/0.pbf", headers=headers).status_code == 404
    assert client.get("/api/v1/tiles/cases/12/3391/1586.pbf").status_code == 401
    admin = client.get("/api/v1/tiles/cases/12/3391/1586.pbf", headers=bearer(world["admin@town"]))
    assert admin.status_code == 403


def test_risk_point_tile_is_scoped_and_invalidated(client, world):
    """Risk points: the caller's jurisdiction only, no names, and a new point shows at once."""
    from tests.risks.factories import POINT_CELL2 as RISK_CELL2
    from tests.risks.factories import POINT_VILLAGE_B as RISK_VILLAGE_B
    from tests.risks.factories import register

    town = bearer(world["official@town"])
    response = register(client, world["official@town"], headers=town, geometry=RISK_CELL2)
    assert response.status_code == 201, response.get_json()
    tile = tile_of(**IN_CELL2, z=12)
    first = client.get(url("risk_points", tile), headers=town)
    got = features(first, "risk_points")
    assert len(got) == 1 and got[0]["properties"]["grid_cell"].startswith(VILLAGE)
    assert "name" not in got[0]["properties"] and "description" not in got[0]["properties"]
    response = register(client, world["official@town"], headers=town, geometry=RISK_VILLAGE_B)
    assert response.status_code == 201, response.get_json()
    after = client.get(
        url("risk_points", tile), headers={**town, "If-None-Match": first.headers["ETag"]}
    )
    assert len(features(after, "risk_points")) == 2
    village = client.get(url("risk_points", tile), headers=bearer(world["mediator@village"]))
    assert len(features(village, "risk_points")) == 1


@pytest.mark.parametrize(
    ("caller", "layer", "z", "kind", "open_", "crs"),
    [
        ("official@county", "cases", 12, None, False, "wgs84"),
        ("official@county", "cases", 12, "incident", True, "gcj02"),
        ("grid_worker@village", "cases", 12, None, False, "wgs84"),  # a list of cells bound
        ("official@county", "cases", 9, "dispute", False, "wgs84"),  # the facts' counts
        ("grid_worker@village", "cases", 9, None, True, "wgs84"),  # live counts
        ("mediator@village", "grid_cells", 12, None, False, "wgs84"),
        ("official@county", "risk_points", 12, None, True, "wgs84"),
    ],
)
def test_render_answers_what_the_statement_as_text_answers(
    app, world, cases_in_tile, caller, layer, z, kind, open_, crs
):
    """render() sends the tile statement as the driver's own SQL, compiled once per text: the
    same version and bytes as the statement run through SQLAlchemy's text() (what it was)."""
    user = db.session.merge(world[caller])
    req = services.TileRequest(
        layer, *tile_of(**IN_CELL2, z=z), scope_for(user), user.role, kind, open_, crs
    )
    sql, params = services.tile_sql(req)
    db.session.execute(text(services.NO_PARALLEL))
    plain = db.session.execute(text(sql), params).one()
    if layer == "cases" and caller == "official@county":
        assert plain.tile  # the tile holds something to compare
    assert services.render(req) == (int(plain.version or 0), bytes(plain.tile or b""))
    assert services.driver_sql(sql).startswith(services.NO_PARALLEL + ";\n")
    assert ":z" not in services.driver_sql(sql) and "%(z)s" in services.driver_sql(sql)
