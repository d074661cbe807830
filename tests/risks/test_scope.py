"""Jurisdiction: another cell, village, town or county is invisible everywhere."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from tests.factories import bearer
from tests.geo.factories import box
from tests.risks.factories import POINT_CELL2
from tests.risks.factories import POINT_OTHER_COUNTY
from tests.risks.factories import POINT_VILLAGE_B
from tests.risks.factories import make_point
from tests.risks.factories import register


@pytest.fixture
def world(module_world):
    """The world, built once for this module (tests/conftest.py, module_world)."""
    return module_world


@pytest.fixture
def points(world) -> dict[str, str]:
    """Codes by place: 东村 cell 1 and cell 2, 西村 (same town), 南村 (other town; its own
    cell), and the other county."""
    from app.extensions import db
    from app.geo import services as geo
    from tests.geo.factories import VILLAGE_C
    from tests.geo.factories import collection
    from tests.geo.factories import feature

    geo.import_geojson(
        collection(
            feature(f"{VILLAGE_C}001", "南村第1网格", box(118.1, 37.3, 118.15, 37.35), VILLAGE_C)
        ),
        "grid",
    )
    db.session.commit()
    return {
        "cell1": make_point(world["grid_worker@village"]).code,
        "cell2": make_point(world["mediator@village"], geometry=POINT_CELL2).code,
        "village_b": make_point(world["mediator@town"], geometry=POINT_VILLAGE_B).code,
        "town_b": make_point(
            world["official@county"], geometry={"type": "Point", "coordinates": [118.12, 37.32]}
        ).code,
        "other": make_point(world["outsider"], geometry=POINT_OTHER_COUNTY).code,
    }


SEES = {
    "grid_worker@village": {"cell1"},
    "mediator@village": {"cell1", "cell2"},
    "official@town": {"cell1", "cell2", "village_b"},
    "official@county": {"cell1", "cell2", "village_b", "town_b"},
    "outsider": {"other"},
}


@pytest.mark.parametrize("key", sorted(SEES))
def test_list_detail_and_map_layers_follow_jurisdiction(client, world, points, key):
    """The list, each detail, the GeoJSON layer and the risk map show the caller's scope only."""
    headers = bearer(world[key])
    expected = {points[name] for name in SEES[key]}
    listed = client.get("/api/v1/risk-points", headers=headers).get_json()
    assert {p["code"] for p in listed["items"]} == expected
    ids = {p["code"]: p["id"] for p in listed["items"]}

    layer = client.get("/api/v1/risk-points.geojson", headers=headers).get_json()
    assert {f["id"] for f in layer["features"]} == expected

    risk_map = client.get("/api/v1/grid-cells/risk", headers=headers).get_json()
    counted = sum(f["properties"]["components"]["yellow_points"] for f in risk_map["features"])
    assert counted == len(expected)
    prefix = world[key].region.code[
        : {"village": 12, "town": 9, "county": 6}[world[key].region.level]
    ]
    assert all(f["id"].startswith(prefix) for f in risk_map["features"])

    for code, point_id in ids.items():
        assert client.get(f"/api/v1/risk-points/{point_id}", headers=headers).status_code == 200, (
            code
        )


def test_out_of_scope_detail_is_exactly_like_a_missing_one(client, world, points):
    """A point of another village answers 404 with the same body as an id that never existed."""
    county = client.get("/api/v1/risk-points", headers=bearer(world["official@county"])).get_json()
    other_village = next(p["id"] for p in county["items"] if p["code"] == points["village_b"])
    headers = bearer(world["mediator@village"])
    hidden = client.get(f"/api/v1/risk-points/{other_village}", headers=headers)
    missing = client.get("/api/v1/risk-points/999999", headers=headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json() == missing.get_json()
    action = client.post(
        f"/api/v1/risk-points/{other_village}/actions/change_level",
        json={"level": "red", "reason": "x"},
        headers=headers,
    )
    assert action.status_code == 404


def test_exports_follow_jurisdiction(client, world, points):
    """The town official's ledger holds the town's points; the other county's never appear."""
    headers = bearer(world["official@town"])
    xlsx = client.get("/api/v1/risk-points/export.xlsx", headers=headers)
    rows = list(load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True))
    assert {r[0] for r in rows[1:]} == {points[n] for n in SEES["official@town"]}
    text = client.get("/api/v1/risk-points/export.csv", headers=headers).data.decode("utf-8-sig")
    codes = {r[0] for r in list(csv.reader(io.StringIO(text)))[1:]}
    assert codes == {points[n] for n in SEES["official@town"]}
    assert points["other"] not in text and "371698" not in text


def test_list_filters(client, world, points):
    """region, grid_cell, level, category and status narrow the list; a bad cursor is 400."""
    headers = bearer(world["official@county"])

    def codes(query: str) -> set[str]:
        body = client.get(f"/api/v1/risk-points?{query}", headers=headers).get_json()
        return {p["code"] for p in body["items"]}

    assert codes("region=371699101200") == {points["cell1"], points["cell2"]}
    assert codes("region=371699101000") == {points["cell1"], points["cell2"], points["village_b"]}
    assert codes("grid_cell=371699101200002") == {points["cell2"]}
    everything = {points[n] for n in SEES["official@county"]}
    assert codes("category=消防&level=yellow&status=active") == everything
    assert codes("level=red") == set()
    assert codes("category=欠薪") == set()
    assert codes("region=371698101200") == set()  # another county: nothing, not an error
    bad = client.get("/api/v1/risk-points?after=!!!", headers=headers)
    assert bad.status_code == 400


def test_keyset_pages_cover_everything_once(client, world):
    """limit + next walk every point once, next inspection first; limit above 200 is 400."""
    user = world["mediator@village"]
    headers = bearer(user)
    for level in ("blue", "red", "yellow", "orange", "red", "blue", "yellow"):
        assert (
            register(client, world["mediator@village"], headers=headers, level=level).status_code
            == 201
        )
    seen, after, dues = [], None, []
    while True:
        query = "limit=3" + (f"&after={after}" if after else "")
        page = client.get(f"/api/v1/risk-points?{query}", headers=headers).get_json()
        seen += [p["id"] for p in page["items"]]
        dues += [p["next_due"] for p in page["items"]]
        after = page["next"]
        if not after:
            break
    assert len(seen) == len(set(seen)) == 7
    assert dues == sorted(dues)
    assert client.get("/api/v1/risk-points?limit=201", headers=headers).status_code == 400
